/**
 * Confidence intervals, and what they allow one to claim. Figures are compared across seeds: each seed draws its
 * own workload and jitter, so the spread between seeds is the spread a reader would see re-running with others.
 */
import {jStat} from 'jstat';
import {seeded} from './prng';
import {fmt, mean, quantile} from './stats';

/** A mean with its 95 % confidence interval. */
export interface Interval {
  mean: number;
  low: number;
  high: number;
  /** How many values it comes from. */
  n: number;
}

/** Confidence level of every interval in the report. */
export const CONFIDENCE = 0.95;

/**
 * The mean of `values` with a Student t interval (the values taken as independent draws, e.g. one per seed);
 * a single value has no spread to go on, so its interval is unbounded.
 */
export function tInterval(values: readonly number[]): Interval {
  const n = values.length;
  const m = mean(values);
  if (n < 2) return {mean: m, low: -Infinity, high: Infinity, n};
  const variance =
    values.reduce((sum, value) => sum + (value - m) ** 2, 0) / (n - 1);
  const half =
    jStat.studentt.inv(1 - (1 - CONFIDENCE) / 2, n - 1) *
    Math.sqrt(variance / n);
  return {mean: m, low: m - half, high: m + half, n};
}

/**
 * A percentile bootstrap interval of `statistic` over `values` (resampled with replacement, seeded): for one run's
 * per-operation figures, such as a p99, whose sampling spread has no formula.
 */
export function bootstrapInterval<T>(
  values: readonly T[],
  statistic: (sample: readonly T[]) => number,
  resamples = 1000,
  seed = 1,
): Interval {
  const random = seeded(seed);
  const estimates = Array.from({length: resamples}, () =>
    statistic(
      Array.from(
        {length: values.length},
        () => values[Math.floor(random() * values.length)],
      ),
    ),
  );
  const tail = (1 - CONFIDENCE) / 2;
  return {
    mean: statistic(values),
    low: quantile(estimates, tail),
    high: quantile(estimates, 1 - tail),
    n: values.length,
  };
}

/** How two intervals of a lower-is-better figure compare: a win or a loss only where they do not overlap. */
export type Verdict = 'win' | 'loss' | 'tie';

/** `a` against `b`, lower being better. */
export function compare(a: Interval, b: Interval): Verdict {
  if (a.high < b.low) return 'win';
  if (a.low > b.high) return 'loss';
  return 'tie';
}

/**
 * Whether paired differences (one per seed: a figure minus the bound it must stay under) keep below zero: `met`
 * when the whole interval of their mean is at or below it, `not met` when it is above, else `tie`.
 */
export function boundVerdict(
  differences: readonly number[],
): 'met' | 'not met' | 'tie' {
  const interval = tInterval(differences);
  if (interval.high <= 0) return 'met';
  if (interval.low > 0) return 'not met';
  return 'tie';
}

/** `mean ± half-width` for a symmetric interval, `value [low, high]` for another, with the precision of `fmt`. */
export function formatInterval(interval: Interval, digits = 3): string {
  const {mean: m, low, high} = interval;
  if (!Number.isFinite(high - low)) return fmt(m, digits);
  const below = m - low;
  const above = high - m;
  if (Math.abs(above - below) <= 1e-9 * Math.max(1, Math.abs(m)))
    return `${fmt(m, digits)} ± ${fmt(above, 2)}`;
  return `${fmt(m, digits)} [${fmt(low, digits)}, ${fmt(high, digits)}]`;
}
