/**
 * Configuration from the environment, validated once at start.
 *
 * Each function reads only the variables it uses, so a deployment sets exactly those and nothing more; the
 * infrastructure tests hold `infra/` to {@link REGISTRATION_ENV}, {@link POLLER_ENV} and {@link COMPLETIONS_ENV}.
 */
import {z} from 'zod';
import {BUCKETS} from './shards';
import {parseAllowlists, splitList, type Allowlists} from './allowlists';
import {ANONYMOUS} from './model';
import {tenantsSchema, type Tenants} from './tenants';
import {parseJsonText} from './json-text';

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

/** Hosts that may be reached over plain `http://`: the machine itself, where a test or local stand-in runs. */
const LOOPBACK_BASE =
  /^http:\/\/(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?\/?$/;

const positiveNumber = (fallback: number, max: number) =>
  z.coerce.number().positive().max(max).default(fallback);

const overridesSchema = z
  .string()
  .default('{}')
  .transform(parseJsonText)
  .pipe(
    z.record(
      z.string().regex(HOSTNAME, 'keys must be lower-case host names'),
      z
        .string()
        .url()
        .regex(
          /^https?:\/\/[^/?#]+\/?$/,
          'values must be a base URL: scheme and host[:port] only',
        )
        // Tokens travel to these URLs: in clear text only to this machine.
        .refine(
          base => base.startsWith('https://') || LOOPBACK_BASE.test(base),
          'http:// is allowed only for loopback addresses',
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

const topicSchema = z
  .string()
  .regex(/^\S+$/, 'must be a topic id or projects/P/topics/T');

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
  WATCH_PROJECTS: z.string().optional(),
  WATCH_SERVICES: z.string().optional(),
  ALLOWED_TOPICS: z.string().optional(),
  DELEGATION_SUBJECTS: z.string().optional(),
  TENANTS: tenantsSchema.optional(),
  // opwatch's own topics, never a notification's (core/allowlists.ts reservedTopics).
  DEAD_LETTER_TOPIC: topicSchema.optional(),
  COMPLETION_EVENTS_TOPIC: topicSchema.optional(),
};

const flag = z
  .enum(['true', 'false'], {message: 'must be true or false'})
  .default('false')
  .transform(text => text === 'true');
/** A comma-separated list of e-mail addresses. */
/** Read by the poll function, and by the registration function, which wakes a tick of a new registration's shard. */
const pollShards = {
  POLL_SHARDS: z.coerce.number().int().min(1).max(BUCKETS).default(1),
  POLL_FANOUT_TOPIC: topicSchema.optional(),
};

const registrationSchema = z.object({
  ...shared,
  ...pollShards,
  DEFAULT_TOPIC: topicSchema,
  COMPLETION_EVENTS: flag,
  FUNCTION_URLS: z
    .string()
    .default('')
    .transform(splitList)
    .pipe(z.array(z.url('must be comma-separated https:// URLs'))),
  // `anonymous` too: where ALLOW_UNAUTHENTICATED=true (the local stack), the one caller may be the admin.
  ADMIN_PRINCIPALS: z
    .string()
    .default('')
    .transform(text => splitList(text).map(entry => entry.toLowerCase()))
    .pipe(
      z.array(
        z.union([z.literal(ANONYMOUS), z.email()], {
          error: 'must be comma-separated e-mail addresses (or anonymous)',
        }),
      ),
    ),
  ALLOW_UNAUTHENTICATED: flag,
  MAX_PENDING_PER_OWNER: z.coerce.number().int().min(1).default(10_000),
});

/** How long from its first refusal a notification is retried, unless PUBLISH_GRACE_SECONDS says otherwise. */
export const DEFAULT_PUBLISH_GRACE_SECONDS = 3600;

const pollerSchema = z.object({
  ...shared,
  // As long as Cloud Scheduler's period: the next tick waits for this one to hand over, so none leaves a gap.
  POLL_BUDGET_SECONDS: positiveNumber(60, 3600),
  POLL_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(32),
  POLL_LEASE_SECONDS: positiveNumber(15, 600),
  POLL_REQUEST_TIMEOUT_SECONDS: positiveNumber(10, 300),
  // The function's memory as Terraform gives it (available_memory): the answers' budget (polling/memory-budget.ts).
  POLL_MEMORY_MB: z.coerce.number().int().min(128).max(32_768).default(512),
  ...pollShards,
  // Each watch's parent is listed at most this often (functions/polling/watch-listing.ts).
  LIST_INTERVAL_SECONDS: positiveNumber(30, 86_400),
  PUBLISH_GRACE_SECONDS: positiveNumber(
    DEFAULT_PUBLISH_GRACE_SECONDS,
    30 * 86_400,
  ),
});

const completionsSchema = pollerSchema.extend({
  COMPLETION_POLL_BUDGET_SECONDS: positiveNumber(10, 3600),
});

/** The variables the registration function reads. */
export const REGISTRATION_ENV = Object.keys(registrationSchema.shape);
/** The variables the poll function reads. */
export const POLLER_ENV = Object.keys(pollerSchema.shape);
/** The variables the completions function reads. */
export const COMPLETIONS_ENV = Object.keys(completionsSchema.shape);

/** What both functions share. */
export interface CommonConfig {
  projectId: string;
  collection: string;
  endpointOverrides: EndpointOverrides;
  retentionMs: number;
  allowlists: Allowlists;
  /** TENANTS: the teams sharing the deployment; undefined when unset (every caller bounded by the global lists). */
  tenants?: Tenants;
}

/** The poll work's shards, which the registration function needs too: it wakes a tick of a new registration's shard. */
export interface ShardsConfig {
  /** Shard workers the buckets are split over (POLL_SHARDS). */
  shards: number;
  /**
   * The poll fan-out topic (POLL_FANOUT_TOPIC): a tick fans out over it when there is more than one shard, and a
   * create that no running tick will poll soon publishes a wake there (polling/tick-wake.ts). Without it, new
   * registrations wait for the next scheduled tick.
   */
  fanoutTopic?: string;
}

/** Configuration of the registration function. */
export interface RegistrationConfig extends CommonConfig, ShardsConfig {
  /** Full topic name, `projects/P/topics/T`. */
  defaultTopic: string;
  /**
   * Completion events are routed to this deployment: registrations of services whose audit entries name their
   * operations get the lazier default backoff, since the event, not the backoff, brings their notification.
   */
  completionEvents: boolean;
  /** Audiences accepted in callers' ID tokens: the function's URLs. */
  functionUrls: string[];
  /** Callers who see and cancel every registration. */
  adminPrincipals: string[];
  /** True when callers need no ID token; every registration is then owned by `anonymous`. */
  allowUnauthenticated: boolean;
  maxPendingPerOwner: number;
}

/** Configuration of the poll function. */
export interface PollerConfig extends CommonConfig, ShardsConfig {
  budgetMs: number;
  concurrency: number;
  leaseMs: number;
  requestTimeoutMs: number;
  /** The function's memory in MB (POLL_MEMORY_MB), which the answers a tick holds are budgeted from. */
  memoryMb: number;
  /** How long from its first refusal a notification Pub/Sub keeps refusing is retried before the watch ends. */
  publishGraceMs: number;
  /** LIST_INTERVAL_SECONDS: a watch lists its parent at most this often. */
  listIntervalMs: number;
  /** Full topic name that also gets the notification of an `undeliverable` watch, if set. */
  deadLetterTopic?: string;
  /** How long a tick waits for the previous one to hand the lease over: that tick's usual end. */
  handOverMs: number;
}

/** Configuration of the completions function: the poller's, and the budget of the tick an event starts. */
export interface CompletionsConfig extends PollerConfig {
  completionBudgetMs: number;
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

type ParsedEnv =
  z.infer<typeof registrationSchema> | z.infer<typeof pollerSchema>;

function common(env: ParsedEnv): CommonConfig {
  return {
    projectId: env.GOOGLE_CLOUD_PROJECT,
    collection: env.OPERATIONS_COLLECTION,
    endpointOverrides: env.ENDPOINT_OVERRIDES,
    retentionMs: env.RETENTION_DAYS * 86_400_000,
    allowlists: {...parseAllowlists(env), reservedTopics: reservedTopics(env)},
    ...(env.TENANTS && {tenants: env.TENANTS}),
  };
}

/** opwatch's own topics, as full names: the fan-out, the dead-letter and the completion-events topics. */
function reservedTopics(env: ParsedEnv): ReadonlySet<string> {
  const variables = [
    'POLL_FANOUT_TOPIC',
    'DEAD_LETTER_TOPIC',
    'COMPLETION_EVENTS_TOPIC',
  ] as const;
  return new Set(
    variables.flatMap(variable => {
      const topic = env[variable];
      return topic === undefined
        ? []
        : [topicName(variable, topic, env.GOOGLE_CLOUD_PROJECT)];
    }),
  );
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
  const allowUnauthenticated = parsed.ALLOW_UNAUTHENTICATED;
  if (!allowUnauthenticated && parsed.FUNCTION_URLS.length === 0) {
    throw new ConfigError(
      "invalid configuration: FUNCTION_URLS: required unless ALLOW_UNAUTHENTICATED=true (the audience of callers' ID tokens)",
    );
  }
  if (allowUnauthenticated && parsed.TENANTS) {
    throw new ConfigError(
      'invalid configuration: TENANTS: callers are known by their ID tokens, so tenants need ALLOW_UNAUTHENTICATED=false',
    );
  }
  return {
    ...common(parsed),
    defaultTopic: topicName(
      'DEFAULT_TOPIC',
      parsed.DEFAULT_TOPIC,
      parsed.GOOGLE_CLOUD_PROJECT,
    ),
    completionEvents: parsed.COMPLETION_EVENTS,
    functionUrls: parsed.FUNCTION_URLS.map(url => url.replace(/\/+$/, '')),
    adminPrincipals: parsed.ADMIN_PRINCIPALS,
    allowUnauthenticated,
    maxPendingPerOwner: parsed.MAX_PENDING_PER_OWNER,
    shards: parsed.POLL_SHARDS,
    fanoutTopic: fanoutTopicOf(parsed),
  };
}

function fanoutTopicOf(parsed: {
  POLL_FANOUT_TOPIC?: string;
  GOOGLE_CLOUD_PROJECT: string;
}): string | undefined {
  return parsed.POLL_FANOUT_TOPIC === undefined
    ? undefined
    : topicName(
        'POLL_FANOUT_TOPIC',
        parsed.POLL_FANOUT_TOPIC,
        parsed.GOOGLE_CLOUD_PROJECT,
      );
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
  return pollerConfig(parse(pollerSchema, env));
}

/** Reads the completions function's configuration; throws {@link ConfigError} naming the bad variable. */
export function loadCompletionsConfig(
  env: Env = process.env,
): CompletionsConfig {
  const parsed = parse(completionsSchema, env);
  return {
    ...pollerConfig(parsed),
    completionBudgetMs: parsed.COMPLETION_POLL_BUDGET_SECONDS * 1000,
  };
}

function pollerConfig(parsed: z.infer<typeof pollerSchema>): PollerConfig {
  const fanoutTopic = fanoutTopicOf(parsed);
  if (parsed.POLL_SHARDS > 1 && !fanoutTopic) {
    throw new ConfigError(
      'invalid configuration: POLL_FANOUT_TOPIC: required when POLL_SHARDS > 1',
    );
  }
  const leaseMs = parsed.POLL_LEASE_SECONDS * 1000;
  const requestTimeoutMs = parsed.POLL_REQUEST_TIMEOUT_SECONDS * 1000;
  return {
    ...common(parsed),
    budgetMs: parsed.POLL_BUDGET_SECONDS * 1000,
    concurrency: parsed.POLL_CONCURRENCY,
    leaseMs,
    requestTimeoutMs,
    memoryMb: parsed.POLL_MEMORY_MB,
    shards: parsed.POLL_SHARDS,
    fanoutTopic,
    publishGraceMs: parsed.PUBLISH_GRACE_SECONDS * 1000,
    listIntervalMs: parsed.LIST_INTERVAL_SECONDS * 1000,
    ...(parsed.DEAD_LETTER_TOPIC !== undefined && {
      deadLetterTopic: topicName(
        'DEAD_LETTER_TOPIC',
        parsed.DEAD_LETTER_TOPIC,
        parsed.GOOGLE_CLOUD_PROJECT,
      ),
    }),
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
