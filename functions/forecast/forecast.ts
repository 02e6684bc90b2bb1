/**
 * The forecaster: from a registration, the latest poll and what is known of the operation's kind, when to poll
 * next, and when the operation will likely be done.
 *
 * Pure like the policy it wraps (no I/O, no clock): the poller and the benchmark run this very code. It only
 * moves the next poll of a pending operation; what ends a watch, Retry-After and errors stay the policy's.
 *
 * The rules, most informed first:
 * 1. an explicit `pollPolicy` on the registration wins: the policy's backoff, as before;
 * 2. progress with a start time: extrapolate the finish; when the recent rate agrees with the average rate,
 *    poll just after the finish (most of the way there while under half done), else halfway there (never
 *    further than the cap), which stays right when progress runs on a curve;
 * 3. a kind with enough history: skip the time in which few of its operations finished, then poll in steps
 *    that shrink with the spread of its durations;
 * 4. a kind with no history yet: the API owners' published poll settings, within the cap;
 * 5. anything else (an opaque operation): a wait of at most {@link YOUNG_WAIT_MS} while the operation is young,
 *    then half its age, within the cap. Minimising polls for a given median delay means polling evenly, just
 *    often enough, while most operations are still running, then backing off fast; the half-age bound keeps a
 *    short operation's delay within half its duration.
 * Only a confident forecast (steady progress, or a history with a narrow spread) may wait longer than the cap,
 * the registration's or the default policy's `maxDelay`; nothing waits past the deadline, except by the floor of
 * `MIN_POLL_INTERVAL_MS` (core/policy.ts) between two polls, which holds whatever the wait.
 */
import type {LroSettings} from '../core/presets';
import {
  DEFAULT_POLICY,
  backoffDelay,
  decide,
  nextPollAfter,
  type PolicyInput,
  type PollResult,
  type Transition,
} from '../core/policy';
import type {Registration} from '../core/model';
import {durationAt, type DurationModel} from './durations';
import {extrapolate, readProgress, type ProgressEstimate} from './progress';

/** What is known of a registration's kind. */
export interface KindKnowledge {
  /** Its learned durations, once it has enough history. */
  durations?: DurationModel;
  /** The API owners' poll settings for it. */
  prior?: LroSettings;
}

/** The part of a registration the forecaster reads. */
export type ForecastInput = PolicyInput &
  Pick<Registration, 'createdAt' | 'lastPolledAt'>;

/** The policy's transition with the next poll moved, and what people are shown. */
export interface Forecast {
  transition: Transition;
  /** Share of the work done, 0 to 100, when the operation reports it. */
  progressPercent?: number;
  /** When the operation will likely be done, when known. */
  estimatedDoneAt?: number;
}

/** No forecast polls sooner than this after a poll. */
export const MIN_WAIT_MS = 1000;
/** How long after an extrapolated finish to poll: progress at 100 % is often a moment ahead of `done`. */
export const PROGRESS_MARGIN_MS = 500;
/**
 * Below this share done, a steady estimate is still a long extrapolation, and a small error in the reading (it
 * was taken somewhere between the request and the answer) grows with it: go {@link EARLY_JUMP_SHARE} of the way,
 * and let the next reading, much further on, place the finish.
 */
const EARLY_FRACTION = 0.5;
const EARLY_JUMP_SHARE = 0.9;
/** A history with a spread (sigma of the log-duration) at most this may wait past the cap. */
export const CONFIDENT_SIGMA = 0.5;
/** Where the forecast starts polling a kind, in standard deviations below its median: 16 % finish before. */
const BODY_Z = 1;
/** Within a kind's durations, each wait is this share of sigma, as a ratio of the time elapsed. */
export const STEP_SIGMA_SHARE = 0.4;
/** Past an extrapolated finish, wait this share of the time elapsed. */
const OVERDUE_SHARE = 0.05;
/** Random share taken off a forecast wait, so a burst of one kind does not poll in lock-step. */
const JITTER = 0.1;
/** An opaque operation younger than {@link YOUNG_MS} waits at most this long between polls. */
export const YOUNG_WAIT_MS = 5000;
/** Until this age, an opaque operation is young: about half of a mix spanning seconds to half an hour is done. */
export const YOUNG_MS = 45_000;
/** An opaque operation waits at most this share of its age: its delay stays within half its duration. */
export const AGE_SHARE = 0.5;

const clamp = (value: number, low: number, high: number) =>
  Math.min(high, Math.max(low, value));
const jittered = (ms: number, random: () => number) =>
  ms * (1 - JITTER * random());

/** Decides what follows one poll, as {@link decide} does, with the next poll placed by the forecast. */
export function forecast(
  registration: ForecastInput,
  result: PollResult,
  now: number,
  random: () => number,
  knowledge: KindKnowledge = {},
): Forecast {
  const transition = decide(registration, result, now, random);
  if (result.kind !== 'operation' || transition.outcome) return {transition};

  const reading = readProgress(result.operation);
  const previous = readProgress(registration.lastOperation);
  const estimate =
    reading &&
    extrapolate(
      reading,
      now,
      reading.startedAt ?? registration.createdAt,
      previous && registration.lastPolledAt !== undefined
        ? {reading: previous, at: registration.lastPolledAt}
        : undefined,
    );
  const history = knowledge.durations;
  const typicalEnd = history && registration.createdAt + history.medianMs;
  const shown = {
    progressPercent: reading && Math.round(reading.fraction * 1000) / 10,
    estimatedDoneAt: inWindow(
      estimate?.doneAt ??
        (typicalEnd !== undefined && typicalEnd > now ? typicalEnd : undefined),
      now,
      registration.deadline,
    ),
  };
  if (registration.pollPolicy) return {transition, ...shown};

  const wait = estimate
    ? progressWait(estimate, reading!.fraction, registration, now)
    : history
      ? historyWait(history, now - registration.createdAt, random)
      : knowledge.prior
        ? priorWait(knowledge.prior, registration.attempts + 1, random)
        : opaqueWait(now - registration.createdAt, random);
  return {
    transition: {
      ...transition,
      nextPollAt: Number.isNaN(wait)
        ? transition.nextPollAt
        : nextPollAfter(now, wait, registration.deadline),
    },
    ...shown,
  };
}

/**
 * An instant derived from an answer, kept within the watch's window: not before `now`, not after the deadline;
 * undefined for no instant at all. Whatever an answer says (a start in year 1, progress of 1e-9 %), nothing the
 * forecast stores lies outside what Firestore holds, and nothing waits past the deadline.
 */
function inWindow(
  at: number | undefined,
  now: number,
  deadline: number,
): number | undefined {
  return at === undefined || Number.isNaN(at)
    ? undefined
    : clamp(at, now, deadline);
}

/** The cap for a registration without its own policy. */
const CAP_MS = DEFAULT_POLICY.maxDelayMs;

function progressWait(
  estimate: ProgressEstimate,
  fraction: number,
  registration: ForecastInput,
  now: number,
): number {
  const remaining = estimate.doneAt - now;
  if (remaining <= 0) {
    const elapsed = now - registration.createdAt;
    return clamp(elapsed * OVERDUE_SHARE, MIN_WAIT_MS, CAP_MS);
  }
  if (estimate.steady && fraction < EARLY_FRACTION)
    return Math.max(MIN_WAIT_MS, remaining * EARLY_JUMP_SHARE);
  if (estimate.steady)
    return Math.max(MIN_WAIT_MS, remaining + PROGRESS_MARGIN_MS);
  return clamp(remaining / 2, MIN_WAIT_MS, CAP_MS);
}

function historyWait(
  history: DurationModel,
  elapsed: number,
  random: () => number,
): number {
  const confident = history.sigma <= CONFIDENT_SIGMA;
  const bodyStart = durationAt(history, -BODY_Z);
  if (elapsed < bodyStart) {
    const untilBody = bodyStart - elapsed;
    return Math.max(
      MIN_WAIT_MS,
      confident ? untilBody : Math.min(untilBody, CAP_MS),
    );
  }
  const step = elapsed * (Math.exp(STEP_SIGMA_SHARE * history.sigma) - 1);
  return clamp(
    jittered(step, random),
    MIN_WAIT_MS,
    confident ? Infinity : CAP_MS,
  );
}

function opaqueWait(age: number, random: () => number): number {
  const bound = age < YOUNG_MS ? YOUNG_WAIT_MS : CAP_MS;
  return clamp(
    jittered(Math.min(age * AGE_SHARE, bound), random),
    MIN_WAIT_MS,
    CAP_MS,
  );
}

function priorWait(
  prior: LroSettings,
  attempts: number,
  random: () => number,
): number {
  const policy = {
    initialDelayMs: prior.initialPollDelayMs,
    multiplier: prior.pollDelayMultiplier,
    maxDelayMs: Math.min(prior.maxPollDelayMs, CAP_MS),
    jitter: DEFAULT_POLICY.jitter,
  };
  return backoffDelay(policy, attempts, random);
}
