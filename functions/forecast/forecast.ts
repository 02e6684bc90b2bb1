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
 *    poll just after the finish (most of the way there while under half done), never further ahead than the
 *    operation's age or the cap, whichever is longer; else halfway there, within the cap, which stays right when
 *    progress runs on a curve;
 * 3. a kind with enough history (its finished operations, failures included: an operation that fails early is
 *    part of what a kind does): skip the time in which almost none of them finished, then poll as often as the
 *    chance of finishing at that age makes worth it (the hazard: a wait of sqrt(2 x the delay a poll is worth /
 *    hazard)), within the cap;
 * 4. a kind with no history yet: the API owners' published poll settings, within the cap;
 * 5. anything else: the longest unsure wait, a base plus a share of its age (constants.ts `UNSURE_BASE_MS`,
 *    `AGE_SHARE`), within the cap. An operation that names no kind learns from, and teaches, its service's history
 *    (kind.ts `learningKind`), so this rule only serves until that has enough.
 * Only the skip of rule 3 and a steady progress estimate may wait longer than the cap, the registration's or the
 * default policy's `maxDelay`; nothing waits past the deadline, except by the floor of `MIN_POLL_INTERVAL_MS`
 * (core/policy.ts) between two polls, which holds whatever the wait. The constants are in constants.ts.
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
import {
  AGE_SHARE,
  DELAY_PER_POLL_MS,
  EARLY_FRACTION,
  EARLY_JUMP_SHARE,
  JITTER,
  JUMP_AGE_SHARE,
  MIN_WAIT_MS,
  OVERDUE_SHARE,
  PROGRESS_MARGIN_MS,
  SMALL_HISTORY_WIDENING,
  TAIL_Z,
  UNSURE_BASE_MS,
} from './constants';
import {durationAt, hazardAt, type DurationModel} from './durations';
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
  const elapsed = now - registration.createdAt;
  if (remaining <= 0)
    return clamp(elapsed * OVERDUE_SHARE, MIN_WAIT_MS, unsureLongest(elapsed));
  const longest = Math.max(CAP_MS, elapsed * JUMP_AGE_SHARE);
  if (estimate.steady && fraction < EARLY_FRACTION)
    return clamp(remaining * EARLY_JUMP_SHARE, MIN_WAIT_MS, longest);
  if (estimate.steady)
    return clamp(remaining + PROGRESS_MARGIN_MS, MIN_WAIT_MS, longest);
  return clamp(
    remaining / 2,
    Math.max(MIN_WAIT_MS, elapsed * OVERDUE_SHARE),
    unsureLongest(elapsed),
  );
}

/**
 * The longest wait of an unsure forecast: the cap, and a base plus a share of the operation's age, so a short
 * operation is not kept waiting many times its duration by an estimate that was wrong for it.
 */
const unsureLongest = (elapsed: number) =>
  Math.min(CAP_MS, UNSURE_BASE_MS + elapsed * AGE_SHARE);

function historyWait(
  history: DurationModel,
  elapsed: number,
  random: () => number,
): number {
  const widened = {
    ...history,
    sigma: history.sigma * (1 + SMALL_HISTORY_WIDENING / history.count),
  };
  const tailEnd = durationAt(widened, -TAIL_Z);
  if (elapsed < tailEnd) return Math.max(MIN_WAIT_MS, tailEnd - elapsed);
  const hazard = hazardAt(widened, elapsed);
  const wait =
    hazard > 0 ? Math.sqrt((2 * DELAY_PER_POLL_MS) / hazard) : CAP_MS;
  // A fit too wide at its short end must not keep a short operation waiting many times its duration.
  const longest = unsureLongest(elapsed);
  return clamp(jittered(Math.min(wait, longest), random), MIN_WAIT_MS, longest);
}

function opaqueWait(age: number, random: () => number): number {
  return clamp(jittered(unsureLongest(age), random), MIN_WAIT_MS, CAP_MS);
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
