/**
 * The scheduling policy: pure functions from a registration and the result of one poll to what happens next.
 *
 * No I/O and no clock here: the poller passes `now` and a random source, so the policy is exact to test and the
 * benchmark runs the very same code.
 */
import type {
  Operation,
  Outcome,
  PollError,
  PollPolicy,
  Registration,
} from './model';
import type {OperationStyle} from './presets';

/**
 * opwatch's default: 1 s, x1.25, at most 60 s, with 20 % jitter. Each wait is about a quarter of the time the
 * operation has already run, which bounds the notification delay relative to the operation's duration, while
 * the jitter keeps a burst of registrations from polling in lock-step.
 */
export const DEFAULT_POLICY: PollPolicy = {
  initialDelayMs: 1000,
  multiplier: 1.25,
  maxDelayMs: 60_000,
  jitter: 0.2,
};

/**
 * No two polls of one registration are closer than this, whatever its policy, its jitter or a forecast says: a
 * floor applied last, after the jitter, so `{initialDelay: 1s, multiplier: 1, jitter: 1}` cannot poll in a loop.
 */
export const MIN_POLL_INTERVAL_MS = 1000;

/** When to poll next after a poll at `now` that wants to wait `waitMs`: never past the deadline, never sooner than the floor. */
export function nextPollAfter(
  now: number,
  waitMs: number,
  deadline: number,
): number {
  return Math.max(now + MIN_POLL_INTERVAL_MS, Math.min(deadline, now + waitMs));
}

/** Polls answering with the same permanent-looking HTTP status this many times in a row end the watch. */
export const PERMANENT_ERROR_POLLS = 3;

/** A `Retry-After` longer than this is taken as this: a misbehaving server must not park a watch for days. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** Refused publishes a notification gets, at the least, before its watch may end `undeliverable`. */
export const MIN_PUBLISH_ATTEMPTS = 3;
/** The least time from a notification's first refused publish to its watch ending `undeliverable`. */
export const MIN_PUBLISH_RETRY_MS = 60_000;

/** The result of one `operations.get`, classified. */
export type PollResult =
  | {kind: 'operation'; operation: Operation}
  /** 429, 5xx, 408, timeouts and network errors: worth retrying. */
  | {kind: 'transient'; error: PollError; retryAfterMs?: number}
  /** 404: the operation may not be visible yet, or is gone. */
  | {kind: 'not_found'; error: PollError}
  /** Other 4xx, or a 2xx that is not an Operation: retrying is unlikely to help. */
  | {kind: 'rejected'; error: PollError};

/** What the poller does after a poll. */
export interface Transition {
  /** Set when the watch ends: publish this outcome, then store it. */
  outcome?: Outcome;
  /** When to poll next, if the watch goes on. */
  nextPollAt: number;
  attempts: number;
  errorStreak: number;
  lastError?: PollError;
  lastOperation?: Operation;
  /** After a refused publish: the refusals so far, and when the first was. */
  publishFailures?: number;
  publishFailingSince?: number;
}

/** The part of a registration the policy reads. */
export type PolicyInput = Pick<
  Registration,
  | 'attempts'
  | 'errorStreak'
  | 'deadline'
  | 'pollPolicy'
  | 'lastError'
  | 'lastOperation'
  | 'style'
  | 'publishFailures'
  | 'publishFailingSince'
>;

/** How an operation resource of the given style reads: finished, and if so whether it failed. */
export function readOperation(
  operation: Operation,
  style: OperationStyle,
): {done: boolean; failed: boolean} {
  if (style === 'status-done') {
    const errors = (operation.error as {errors?: unknown[]} | undefined)
      ?.errors;
    return {
      done: operation.status === 'DONE',
      failed: Array.isArray(errors) && errors.length > 0,
    };
  }
  return {
    done: operation.done === true,
    failed: operation.error !== undefined && operation.error !== null,
  };
}

/**
 * The wait before the next poll after `attempts` polls: `initial x multiplier^(attempts-1)`, capped, less a
 * random share of up to `jitter` of it.
 */
export function backoffDelay(
  policy: PollPolicy,
  attempts: number,
  random: () => number,
): number {
  const exponent = Math.max(0, attempts - 1);
  const base = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * Math.pow(policy.multiplier, exponent),
  );
  return base * (1 - policy.jitter * random());
}

function errorClass(
  status: number | undefined,
): 'not_found' | 'rejected' | undefined {
  if (status === 404) return 'not_found';
  if (status !== undefined && status >= 400 && status < 500) return 'rejected';
  return undefined;
}

/**
 * Decides what follows one poll of a pending registration at time `now`.
 *
 * A finished operation ends the watch (`succeeded` or `failed`); so do {@link PERMANENT_ERROR_POLLS} polls in a
 * row answering 404 (`not_found`) or another permanent 4xx (`poll_error`), and a poll at or past the deadline
 * (`expired`). Anything else is polled again after the backoff, never before a `Retry-After`.
 */
export function decide(
  registration: PolicyInput,
  result: PollResult,
  now: number,
  random: () => number,
): Transition {
  const policy = registration.pollPolicy ?? DEFAULT_POLICY;
  const attempts = registration.attempts + 1;
  const reschedule = (minimumWaitMs = 0) =>
    nextPollAfter(
      now,
      Math.max(backoffDelay(policy, attempts, random), minimumWaitMs),
      registration.deadline,
    );

  if (result.kind === 'operation') {
    const {done, failed} = readOperation(result.operation, registration.style);
    const base = {attempts, errorStreak: 0, lastOperation: result.operation};
    if (done)
      return {
        ...base,
        outcome: failed ? 'failed' : 'succeeded',
        nextPollAt: now,
      };
    if (now >= registration.deadline)
      return {...base, outcome: 'expired', nextPollAt: now};
    return {...base, nextPollAt: reschedule()};
  }

  const base = {
    attempts,
    lastError: result.error,
    lastOperation: registration.lastOperation,
  };
  if (result.kind === 'transient') {
    if (now >= registration.deadline)
      return {...base, errorStreak: 0, outcome: 'expired', nextPollAt: now};
    const retryAfterMs = Math.min(result.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
    return {...base, errorStreak: 0, nextPollAt: reschedule(retryAfterMs)};
  }

  const sameAsBefore =
    errorClass(registration.lastError?.status) ===
    errorClass(result.error.status);
  const errorStreak = sameAsBefore ? registration.errorStreak + 1 : 1;
  if (errorStreak >= PERMANENT_ERROR_POLLS) {
    return {
      ...base,
      errorStreak,
      outcome: result.kind === 'not_found' ? 'not_found' : 'poll_error',
      nextPollAt: now,
    };
  }
  if (now >= registration.deadline)
    return {...base, errorStreak, outcome: 'expired', nextPollAt: now};
  return {...base, errorStreak, nextPollAt: reschedule()};
}

/**
 * Whether a notification refused at `now` has been tried enough for its watch to end `undeliverable`: the grace
 * runs from its first refused publish, not from the deadline (a watch that ends at its deadline would otherwise be
 * undeliverable after one refusal), and it takes at least {@link MIN_PUBLISH_ATTEMPTS} refusals over at least
 * {@link MIN_PUBLISH_RETRY_MS}, whatever the grace.
 */
export function undeliverableAt(
  registration: Pick<PolicyInput, 'publishFailures' | 'publishFailingSince'>,
  now: number,
  graceMs: number,
): boolean {
  const refusals = (registration.publishFailures ?? 0) + 1;
  const since = registration.publishFailingSince ?? now;
  return (
    refusals >= MIN_PUBLISH_ATTEMPTS &&
    now - since >= Math.max(graceMs, MIN_PUBLISH_RETRY_MS)
  );
}

/**
 * After Pub/Sub refused a notification: the registration stays pending and the whole poll is tried again after
 * the backoff, so the message, when it goes out, carries the operation's latest state; the refusal is counted.
 * A permanent-error streak starts over, which costs at most {@link PERMANENT_ERROR_POLLS} more polls in a rare
 * case.
 */
export function afterPublishFailure(
  registration: PolicyInput,
  transition: Transition,
  error: PollError,
  now: number,
  random: () => number,
): Transition {
  const policy = registration.pollPolicy ?? DEFAULT_POLICY;
  return {
    attempts: transition.attempts,
    errorStreak: 0,
    lastError: error,
    lastOperation: transition.lastOperation,
    nextPollAt:
      now +
      Math.max(
        MIN_POLL_INTERVAL_MS,
        backoffDelay(policy, transition.attempts, random),
      ),
    publishFailures: (registration.publishFailures ?? 0) + 1,
    publishFailingSince: registration.publishFailingSince ?? now,
  };
}
