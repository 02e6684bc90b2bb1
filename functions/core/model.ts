/**
 * The shapes opwatch stores and publishes: a registration, its states, and the google.longrunning.Operation it
 * watches.
 */
import {createHash} from 'node:crypto';
import {z} from 'zod';
import type {OperationStyle} from './presets';

/**
 * Where a watch stands. Everything but `pending` is final. `undeliverable`: the watch ended, but Pub/Sub refused
 * its notification until the deadline plus PUBLISH_GRACE_SECONDS had passed.
 */
export const STATES = [
  'pending',
  'succeeded',
  'failed',
  'expired',
  'not_found',
  'poll_error',
  'cancelled',
  'undeliverable',
] as const;
export const stateSchema = z.enum(STATES).meta({
  description:
    'Where a watch stands; everything but pending is final. A cancelled watch publishes nothing.',
});
export type State = z.infer<typeof stateSchema>;

/** The final states a notification is published for (a cancelled watch publishes nothing). */
export const outcomeSchema = stateSchema
  .exclude(['pending', 'cancelled'])
  .meta({description: 'The final state a notification reports.'});
export type Outcome = z.infer<typeof outcomeSchema>;

/** google.rpc.Status. */
export const statusSchema = z
  .looseObject({
    code: z.int().optional(),
    message: z.string().optional(),
    details: z.array(z.unknown()).optional(),
  })
  .meta({description: 'google.rpc.Status.'});
export type Status = z.infer<typeof statusSchema>;

/** google.longrunning.Operation, as an API returns it (or the status-done shape of Compute Engine and Cloud SQL). */
export const operationSchema = z
  .looseObject({
    name: z.string().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    done: z.boolean().optional(),
    error: statusSchema.optional(),
    response: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({
    description:
      "The operation resource exactly as the service's operations.get returned it: google.longrunning.Operation " +
      '(name, metadata, done, error or response), or the status-done shape of Compute Engine and Cloud SQL Admin.',
  });
export type Operation = z.infer<typeof operationSchema>;

/** The operation a registration watches, in canonical form. */
export interface OperationRef {
  /** API host, e.g. `firestore.googleapis.com`. */
  service: string;
  /** Path before the name, e.g. `v1` or `compute/v1`. */
  version: string;
  /** Operation name, e.g. `projects/p/databases/(default)/operations/ABC`. */
  name: string;
  /** `https://{service}/{version}/{name}`. */
  url: string;
}

/** Exponential backoff with jitter, in milliseconds (core/policy.ts applies it). */
export interface PollPolicy {
  /** Delay after the first poll. */
  initialDelayMs: number;
  /** Growth of the delay from one poll to the next. */
  multiplier: number;
  /** Cap on the delay. */
  maxDelayMs: number;
  /** Fraction of the delay drawn at random and taken off it: 0 is none, 1 is "full jitter". */
  jitter: number;
}

/** A valid registration request, normalised. */
export interface NewRegistration {
  operation: OperationRef;
  /** Full topic name, `projects/P/topics/T`. */
  topic: string;
  labels: Record<string, string>;
  timeoutMs: number;
  scopes: string[];
  style: OperationStyle;
  subject?: string;
  pollPolicy?: PollPolicy;
}

/**
 * Kinds of {@link PollError}. `http`: an HTTP error status; `network`: no answer (or no token); `invalid`: an
 * answer that is not an Operation; `untrusted`: a host the configuration no longer trusts; `publish`: Pub/Sub
 * refused the notification; `deadline`: the registration's timeout passed; `corrupt`: the stored document is not
 * a registration this version can read.
 */
export const POLL_ERROR_KINDS = [
  'http',
  'network',
  'invalid',
  'untrusted',
  'publish',
  'deadline',
  'forbidden',
  'corrupt',
] as const;

/** Why the last poll did not yield the operation. */
export const pollErrorSchema = z
  .strictObject({
    kind: z.enum(POLL_ERROR_KINDS),
    status: z.int().optional().meta({description: 'The HTTP status answered.'}),
    message: z.string(),
    body: z.string().optional().meta({
      description: "The start of the answer's body, for http and invalid.",
    }),
  })
  .meta({
    description:
      'Why the last poll did not yield the operation. kind: http, an HTTP error status; network, no answer (or ' +
      'no token); invalid, an answer that is not an Operation; untrusted, a host the configuration no longer ' +
      'trusts; publish, Pub/Sub refused the notification; deadline, the timeout passed; forbidden, the ' +
      'allowlists no longer allow it; corrupt, the stored registration could not be read.',
  });
export type PollError = z.infer<typeof pollErrorSchema>;

/** A registration as stored and as the API shows it. Times are epoch milliseconds. */
export interface Registration extends NewRegistration {
  id: string;
  /** Who registered it: the caller's e-mail from their ID token, or `anonymous` (ALLOW_UNAUTHENTICATED). */
  owner: string;
  /** The owner's tenant when it was made (TENANTS); absent without tenants. */
  tenant?: string;
  state: State;
  createdAt: number;
  updatedAt: number;
  /** When the watch gives up with `expired`. */
  deadline: number;
  nextPollAt: number;
  lastPolledAt?: number;
  finishedAt?: number;
  /** Polls made so far. */
  attempts: number;
  /** Consecutive polls that answered the same permanent-looking HTTP status (404, 400, 401, 403, ...). */
  errorStreak: number;
  lastError?: PollError;
  /** The latest Operation the API returned (while running: its name, metadata and done). */
  lastOperation?: Operation;
  /** Where completion events find it (functions/core/completion-events.ts); absent for services without them. */
  completionKey?: string;
  /** When a completion event last made it due: events make it due at most once per interval (completions/). */
  eventDueAt?: number;
  /** The registration's virtual bucket, a hash of its id (core/shards.ts); absent on registrations of old. */
  bucket?: number;
  /** The watch that found it under its parent (core/watch.ts); absent for a registration made directly. */
  watchId?: string;
  /** Share of the work done, 0 to 100, as the operation last reported it; only while pending. */
  progressPercent?: number;
  /** When the operation will likely be done, from its progress or its kind's history; only while pending. */
  estimatedDoneAt?: number;
  /**
   * Refused publishes of its notification so far, and when the first was refused (core/policy.ts): the poll that
   * first found the watch ended, where the grace runs from and the notification's lag starts when the operation
   * reports no end time of its own.
   */
  publishFailures?: number;
  publishFailingSince?: number;
  /**
   * The Cloud Logging trace of the request that registered it (`projects/P/traces/T`), carried by the log lines
   * about it in ticks, so a registration and its notification can be followed as one trace.
   */
  trace?: string;
}

/** The owner of registrations made without an ID token (ALLOW_UNAUTHENTICATED=true). */
export const ANONYMOUS = 'anonymous';

/**
 * The registration id: a digest of the canonical operation URL, the topic and the owner, so that registering the
 * same operation for the same topic twice finds the first registration, and one caller cannot find (or cancel)
 * another's by computing its id.
 */
export function registrationId(
  operationUrl: string,
  topic: string,
  owner: string,
): string {
  return createHash('sha256')
    .update(`${operationUrl}\n${topic}\n${owner}`)
    .digest('hex')
    .slice(0, 32);
}
