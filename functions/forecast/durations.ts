/**
 * What the durations of one kind's past operations say about the next one: a log-normal fitted from three sums
 * (count, sum of log-durations, sum of their squares). Sums merge by plain increments, so concurrent finishes
 * never overwrite each other, and a tick writes what it learned as one increment per kind.
 */
import type {Operation} from '../core/model';

/** The stored sums of one kind; durations in milliseconds, logs natural. */
export interface DurationSums {
  count: number;
  sumLog: number;
  sumLogSquares: number;
}

/** A kind's durations, as a log-normal. */
export interface DurationModel {
  /** Finished operations it comes from. */
  count: number;
  /** Median duration, in milliseconds. */
  medianMs: number;
  /** Standard deviation of the log-duration. */
  sigma: number;
}

/** Finished operations a kind needs before its history overrides the priors. */
export const MIN_HISTORY = 5;
/** A floor on the spread: a handful of near-identical durations must not make the forecast overconfident. */
const MIN_SIGMA = 0.05;

/**
 * The model of a kind's durations, or undefined below {@link MIN_HISTORY} (counts may be weights, not whole) or for
 * sums that make no sense.
 */
export function durationModel(
  sums: DurationSums | undefined,
): DurationModel | undefined {
  // Rounded: a count of decaying weights (forecast/history.ts) a moment old is a whole number a hair short.
  if (!sums || !(Math.round(sums.count) >= MIN_HISTORY)) return undefined;
  const mean = sums.sumLog / sums.count;
  const variance =
    (sums.sumLogSquares - sums.count * mean * mean) / (sums.count - 1);
  const medianMs = Math.exp(mean);
  const sigma = Math.max(MIN_SIGMA, Math.sqrt(Math.max(0, variance)));
  // Sums that overflow (stored by something else, or learned from absurd durations) teach nothing.
  if (!Number.isFinite(medianMs) || !Number.isFinite(sigma)) return undefined;
  return {count: sums.count, medianMs, sigma};
}

/** The duration `z` standard deviations from the median (z = -2 is the 2.3 % quantile). */
export function durationAt(model: DurationModel, z: number): number {
  return model.medianMs * Math.exp(z * model.sigma);
}

/** An RFC 3339 time as epoch milliseconds, or undefined. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * When the operation says it ended: Firestore's and Spanner's `metadata.endTime`, Compute's `endTime`, Vertex AI's
 * `genericMetadata.updateTime`; undefined when it says nothing readable.
 */
export function reportedEndTime(
  operation: Operation | undefined,
): number | undefined {
  if (!operation) return undefined;
  const metadata = (operation.metadata ?? {}) as Record<string, unknown>;
  const generic = (metadata.genericMetadata ?? {}) as Record<string, unknown>;
  return (
    parseTime(metadata.endTime) ??
    parseTime(operation.endTime) ??
    parseTime(generic.updateTime)
  );
}

/**
 * How long a finished operation took, as well as opwatch can tell: from the watch's start to the end time the
 * operation reports, or else to the middle of the last two polls, between which it finished. Never longer than
 * the watch itself could last (its timeout): a finish seen past the deadline teaches no longer duration.
 */
export function observedDuration(
  watch: {createdAt: number; deadline: number; lastPolledAt?: number},
  operation: Operation,
  finishedSeenAt: number,
): number | undefined {
  const reported = reportedEndTime(operation);
  const lastPoll = watch.lastPolledAt ?? watch.createdAt;
  const end =
    reported !== undefined &&
    reported > watch.createdAt &&
    reported <= finishedSeenAt
      ? reported
      : (lastPoll + finishedSeenAt) / 2;
  const duration = Math.min(end, watch.deadline) - watch.createdAt;
  return duration > 0 ? duration : undefined;
}

/** The increments one finished operation adds to its kind's sums. */
export function durationIncrement(durationMs: number): DurationSums {
  const log = Math.log(durationMs);
  return {count: 1, sumLog: log, sumLogSquares: log * log};
}
