/**
 * The shapes opwatch stores and publishes: a registration, its states, and the google.longrunning.Operation it
 * watches.
 */
import {createHash} from 'node:crypto';
import type {OperationStyle} from './google/presets';
import type {PollPolicy} from './polling/policy';

/** Where a watch stands. Everything but `pending` is final. */
export const STATES = [
  'pending',
  'succeeded',
  'failed',
  'expired',
  'not_found',
  'poll_error',
  'cancelled',
] as const;
export type State = (typeof STATES)[number];

/** The final states a notification is published for (a cancelled watch publishes nothing). */
export type Outcome = Exclude<State, 'pending' | 'cancelled'>;

/** google.rpc.Status. */
export interface Status {
  code?: number;
  message?: string;
  details?: unknown[];
}

/** google.longrunning.Operation, as an API returns it. */
export interface Operation {
  name?: string;
  metadata?: Record<string, unknown>;
  done?: boolean;
  error?: Status;
  response?: Record<string, unknown>;
  [field: string]: unknown;
}

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

/** Why the last poll did not yield the operation. */
export interface PollError {
  /**
   * `http`: an HTTP error status; `network`: no answer (or no token); `invalid`: an answer that is not an
   * Operation; `untrusted`: a host the configuration no longer trusts; `publish`: Pub/Sub refused the
   * notification; `deadline`: the registration's timeout passed.
   */
  kind: 'http' | 'network' | 'invalid' | 'untrusted' | 'publish' | 'deadline';
  status?: number;
  message: string;
  /** The start of the answer's body, for `http` and `invalid`. */
  body?: string;
}

/** A registration as stored and as the API shows it. Times are epoch milliseconds. */
export interface Registration extends NewRegistration {
  id: string;
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
  /** Share of the work done, 0 to 100, as the operation last reported it; only while pending. */
  progressPercent?: number;
  /** When the operation will likely be done, from its progress or its kind's history; only while pending. */
  estimatedDoneAt?: number;
}

/**
 * The registration id: a digest of the canonical operation URL and the topic, so that registering the same
 * operation for the same topic twice finds the first registration.
 */
export function registrationId(operationUrl: string, topic: string): string {
  return createHash('sha256')
    .update(`${operationUrl}\n${topic}`)
    .digest('hex')
    .slice(0, 32);
}
