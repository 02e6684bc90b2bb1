/**
 * Configuration from the environment, validated once at start.
 *
 * Each function reads only the variables it uses, so a deployment sets exactly those and nothing more; the
 * infrastructure tests hold `infra/` to {@link REGISTRATION_ENV} and {@link POLLER_ENV}.
 */
import {z} from 'zod';
import {PUBLISH_TIMEOUT_MS} from './notify/publisher';

/** Thrown when the environment is unusable; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const PROJECT_ID = /^[a-z][a-z0-9-]{4,61}[a-z0-9]$/;
const TOPIC_ID = /^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
const FULL_TOPIC =
  /^projects\/([a-z][a-z0-9-]{4,61}[a-z0-9])\/topics\/((?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254})$/;
const GOOGLEAPIS_HOST =
  /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+googleapis\.com$/;
const HOSTNAME =
  /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Where the poller sends a service's requests instead of `https://{service}`: host to base URL. */
export type EndpointOverrides = ReadonlyMap<string, string>;

const positiveNumber = (fallback: number, max: number) =>
  z.coerce.number().positive().max(max).default(fallback);

const overridesSchema = z
  .string()
  .default('{}')
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({code: 'custom', message: 'must be a JSON object'});
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().regex(HOSTNAME, 'keys must be lower-case host names'),
      z
        .string()
        .url()
        .regex(
          /^https?:\/\/[^/?#]+\/?$/,
          'values must be a base URL: scheme and host[:port] only',
        ),
    ),
  )
  .transform(
    record =>
      new Map(
        Object.entries(record).map(([host, base]) => [
          host,
          base.replace(/\/$/, ''),
        ]),
      ) as EndpointOverrides,
  );

const shared = {
  GOOGLE_CLOUD_PROJECT: z
    .string()
    .regex(PROJECT_ID, 'must be a Google Cloud project id'),
  OPERATIONS_COLLECTION: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a Firestore collection id')
    .default('operations'),
  ENDPOINT_OVERRIDES: overridesSchema,
  RETENTION_DAYS: positiveNumber(30, 3650),
};

const registrationSchema = z.object({
  ...shared,
  DEFAULT_TOPIC: z
    .string()
    .regex(/^\S+$/, 'must be a topic id or projects/P/topics/T'),
});

const pollerSchema = z.object({
  ...shared,
  // As long as Cloud Scheduler's period: the next tick waits for this one to hand over, so none leaves a gap.
  POLL_BUDGET_SECONDS: positiveNumber(60, 3600),
  POLL_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(32),
  POLL_LEASE_SECONDS: positiveNumber(15, 600),
  POLL_REQUEST_TIMEOUT_SECONDS: positiveNumber(10, 300),
});

/** The variables the registration function reads. */
export const REGISTRATION_ENV = Object.keys(registrationSchema.shape);
/** The variables the poll function reads. */
export const POLLER_ENV = Object.keys(pollerSchema.shape);

/** What both functions share. */
export interface CommonConfig {
  projectId: string;
  collection: string;
  endpointOverrides: EndpointOverrides;
  retentionMs: number;
}

/** Configuration of the registration function. */
export interface RegistrationConfig extends CommonConfig {
  /** Full topic name, `projects/P/topics/T`. */
  defaultTopic: string;
}

/** Configuration of the poll function. */
export interface PollerConfig extends CommonConfig {
  budgetMs: number;
  concurrency: number;
  leaseMs: number;
  requestTimeoutMs: number;
  /** How long a tick waits for the previous one to hand the lease over: that tick's usual end. */
  handOverMs: number;
}

/**
 * Firestore calls, each bounded by the lease, that can follow the budget: the last poll's write and its learned
 * duration, the renewal under way, the flush, the release.
 */
export const TICK_END_FIRESTORE_CALLS = 5;

/**
 * The longest a tick can run past its budget: its last polls' request and publish, then
 * {@link TICK_END_FIRESTORE_CALLS} calls within the lease. The function's timeout must exceed budget + this
 * (infra/functions.tf's precondition says the same).
 */
export function tickEndMs(
  config: Pick<PollerConfig, 'requestTimeoutMs' | 'leaseMs'>,
): number {
  return (
    config.requestTimeoutMs +
    PUBLISH_TIMEOUT_MS +
    TICK_END_FIRESTORE_CALLS * config.leaseMs
  );
}

type Env = Record<string, string | undefined>;

function parse<T extends z.ZodType>(schema: T, env: Env): z.infer<T> {
  // An empty variable counts as unset, as it does for most tools that read the environment.
  const present = Object.fromEntries(
    Object.entries(env).filter(
      ([, value]) => value !== undefined && value !== '',
    ),
  );
  const result = schema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map(
      issue => `${issue.path.join('.') || 'environment'}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

function common(
  env: z.infer<typeof registrationSchema> | z.infer<typeof pollerSchema>,
): CommonConfig {
  return {
    projectId: env.GOOGLE_CLOUD_PROJECT,
    collection: env.OPERATIONS_COLLECTION,
    endpointOverrides: env.ENDPOINT_OVERRIDES,
    retentionMs: env.RETENTION_DAYS * 86_400_000,
  };
}

/**
 * Expands a topic given as `projects/P/topics/T` or as the short `T` (in `projectId`) to its full name.
 * @returns the full name, or undefined when the text is neither form.
 */
export function fullTopicName(
  topic: string,
  projectId: string,
): string | undefined {
  if (FULL_TOPIC.test(topic)) return topic;
  if (TOPIC_ID.test(topic)) return `projects/${projectId}/topics/${topic}`;
  return undefined;
}

/** Reads the registration function's configuration; throws {@link ConfigError} naming the bad variable. */
export function loadRegistrationConfig(
  env: Env = process.env,
): RegistrationConfig {
  const parsed = parse(registrationSchema, env);
  const defaultTopic = fullTopicName(
    parsed.DEFAULT_TOPIC,
    parsed.GOOGLE_CLOUD_PROJECT,
  );
  if (!defaultTopic) {
    throw new ConfigError(
      'invalid configuration: DEFAULT_TOPIC: must be a topic id or projects/P/topics/T',
    );
  }
  return {...common(parsed), defaultTopic};
}

/** Reads the poll function's configuration; throws {@link ConfigError} naming the bad variable. */
export function loadPollerConfig(env: Env = process.env): PollerConfig {
  const parsed = parse(pollerSchema, env);
  const leaseMs = parsed.POLL_LEASE_SECONDS * 1000;
  const requestTimeoutMs = parsed.POLL_REQUEST_TIMEOUT_SECONDS * 1000;
  return {
    ...common(parsed),
    budgetMs: parsed.POLL_BUDGET_SECONDS * 1000,
    concurrency: parsed.POLL_CONCURRENCY,
    leaseMs,
    requestTimeoutMs,
    // A holder's usual end: its polls under way finish, then it flushes and releases.
    handOverMs: requestTimeoutMs + leaseMs,
  };
}

/** True when `host` may receive the service account's token: a googleapis.com host or an operator's override. */
export function isTrustedHost(
  host: string,
  overrides: EndpointOverrides,
): boolean {
  return GOOGLEAPIS_HOST.test(host) || overrides.has(host);
}
