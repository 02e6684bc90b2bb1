/**
 * What the durations of one kind's past operations say about the next one: a log-normal fitted from three sums
 * (count, sum of log-durations, sum of their squares). Sums merge by plain increments, so concurrent finishes
 * never overwrite each other, and a tick writes what it learned as one increment per kind.
 */
import type {Operation} from '../core/model';
import {MIN_HISTORY, MIN_SIGMA} from './constants';

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

/**
 * The chance that a standard normal draw exceeds `z` (the complement of its distribution function), from
 * Abramowitz and Stegun's 7.1.26 approximation of erfc, within 1.5e-7.
 */
export function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t *
    (0.254829592 +
      t *
        (-0.284496736 +
          t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const upper = (poly * Math.exp(-x * x)) / 2;
  return z >= 0 ? upper : 1 - upper;
}

/**
 * The hazard of a kind's durations at `ageMs`: the chance per millisecond that an operation still running at that
 * age finishes now. Zero before any time has passed; it rises through the body of the durations and, for a
 * log-normal, falls slowly in the tail.
 */
export function hazardAt(model: DurationModel, ageMs: number): number {
  if (!(ageMs > 0)) return 0;
  const z = Math.log(ageMs / model.medianMs) / model.sigma;
  const density = Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI);
  const surviving = normalTail(z);
  // Deep in the tail both vanish; their ratio tends to z, the normal's own limit.
  const ratio = surviving > 1e-12 ? density / surviving : Math.max(z, 0);
  return ratio / (model.sigma * ageMs);
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
