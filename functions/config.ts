/**
 * Configuration from the environment, validated once at start.
 *
 * Each function reads only the variables it uses, so a deployment sets exactly those and nothing more; the
 * infrastructure tests hold `infra/` to {@link REGISTRATION_ENV} and {@link POLLER_ENV}.
 */
import {z} from 'zod';

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

const topicSchema = z
  .string()
  .regex(/^\S+$/, 'must be a topic id or projects/P/topics/T');

const registrationSchema = z.object({
  ...shared,
  DEFAULT_TOPIC: topicSchema,
});

/** How long past its deadline a refused notification is retried, unless PUBLISH_GRACE_SECONDS says otherwise. */
export const DEFAULT_PUBLISH_GRACE_SECONDS = 3600;

const pollerSchema = z.object({
  ...shared,
  POLL_BUDGET_SECONDS: positiveNumber(50, 3600),
  POLL_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(32),
  POLL_LEASE_SECONDS: positiveNumber(15, 600),
  POLL_REQUEST_TIMEOUT_SECONDS: positiveNumber(10, 300),
  PUBLISH_GRACE_SECONDS: positiveNumber(
    DEFAULT_PUBLISH_GRACE_SECONDS,
    30 * 86_400,
  ),
  DEAD_LETTER_TOPIC: topicSchema.optional(),
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
  /** How long past its deadline a notification Pub/Sub keeps refusing is retried before the watch ends. */
  publishGraceMs: number;
  /** Full topic name that also gets the notification of an `undeliverable` watch, if set. */
  deadLetterTopic?: string;
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
  return {
    ...common(parsed),
    defaultTopic: topicName(
      'DEFAULT_TOPIC',
      parsed.DEFAULT_TOPIC,
      parsed.GOOGLE_CLOUD_PROJECT,
    ),
  };
}

function topicName(variable: string, topic: string, projectId: string) {
  const full = fullTopicName(topic, projectId);
  if (!full) {
    throw new ConfigError(
      `invalid configuration: ${variable}: must be a topic id or projects/P/topics/T`,
    );
  }
  return full;
}

/** Reads the poll function's configuration; throws {@link ConfigError} naming the bad variable. */
export function loadPollerConfig(env: Env = process.env): PollerConfig {
  const parsed = parse(pollerSchema, env);
  return {
    ...common(parsed),
    budgetMs: parsed.POLL_BUDGET_SECONDS * 1000,
    concurrency: parsed.POLL_CONCURRENCY,
    leaseMs: parsed.POLL_LEASE_SECONDS * 1000,
    requestTimeoutMs: parsed.POLL_REQUEST_TIMEOUT_SECONDS * 1000,
    publishGraceMs: parsed.PUBLISH_GRACE_SECONDS * 1000,
    ...(parsed.DEAD_LETTER_TOPIC !== undefined && {
      deadLetterTopic: topicName(
        'DEAD_LETTER_TOPIC',
        parsed.DEAD_LETTER_TOPIC,
        parsed.GOOGLE_CLOUD_PROJECT,
      ),
    }),
  };
}

/** True when `host` may receive the service account's token: a googleapis.com host or an operator's override. */
export function isTrustedHost(
  host: string,
  overrides: EndpointOverrides,
): boolean {
  return GOOGLEAPIS_HOST.test(host) || overrides.has(host);
}
