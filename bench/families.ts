/**
 * The workload families the forecaster is judged on, in two sets that never mix: the **tuning** families, on which
 * the constants of functions/forecast/constants.ts were chosen, and the **held-out** families, which no constant
 * was chosen on and which the report shows beside them. A held-out family differs from every tuning family in the
 * shape of its durations (range, spread, modes, tail), in how its operations end, or in how their progress moves.
 *
 * Typed families give their operations a kind (a metadata `@type`). The first {@link WARM_UP_PER_KIND} operations of
 * each kind (of the service, for operations of no kind) are the forecaster's warm-up and are left out of every
 * contender's figures alike.
 */
import {drawWorkload, type Job, type ProgressShape} from './jobs';
import {logUniform, normal} from './prng';

/** Which set a family belongs to. */
export type FamilyRole = 'tuning' | 'held-out';

/** One family: how to draw `count` of its operations arriving over `windowMs`. */
export interface Family {
  key: string;
  role: FamilyRole;
  description: string;
  draw(count: number, windowMs: number, random: () => number): Job[];
}

export const WARM_UP_PER_KIND = 10;

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;

/** `count` operations of several kinds, each kind's durations drawn by `duration` around its `medians` entry. */
function typed(
  count: number,
  windowMs: number,
  random: () => number,
  medians: readonly number[],
  duration: (
    median: number,
    random: () => number,
  ) => Partial<Job> & {
    durationMs: number;
  },
): Job[] {
  return Array.from({length: count}, () => {
    const kind = Math.floor(random() * medians.length);
    return {
      arrivalMs: random() * windowMs,
      kind: `Kind${kind}Metadata`,
      ...duration(medians[kind], random),
    };
  });
}

/** Marks the first {@link WARM_UP_PER_KIND} operations of each kind (of the service, for those of no kind). */
function markWarmUp(jobs: Job[]): Job[] {
  const seen = new Map<string, number>();
  for (const job of [...jobs].sort((a, b) => a.arrivalMs - b.arrivalMs)) {
    const n = (seen.get(job.kind ?? '') ?? 0) + 1;
    seen.set(job.kind ?? '', n);
    job.warmUp = n <= WARM_UP_PER_KIND;
  }
  return jobs;
}

const lognormal =
  (sigma: number) => (median: number, random: () => number) => ({
    durationMs: median * Math.exp(sigma * normal(random)),
  });

const withProgress = (jobs: Job[], progress: ProgressShape) =>
  jobs.map(job => ({...job, progress}));

const minutes = (list: readonly number[]) =>
  list.map(m => (m < 1 ? `${m * 60} s` : `${m} min`)).join(', ');

const TUNING: readonly Family[] = [
  {
    key: 'opaque-2s-30m',
    role: 'tuning',
    description:
      'opaque operations (no kind, no progress), durations log-uniform from 2 s to 30 min',
    draw: (count, windowMs, random) =>
      drawWorkload(count, windowMs, random, 2 * SECOND, 30 * MINUTE),
  },
  {
    key: 'lognormal-0.2',
    role: 'tuning',
    description: `6 kinds, durations log-normal (sigma 0.2) around ${minutes([1 / 3, 1, 3, 8, 15, 25])}`,
    draw: (count, windowMs, random) =>
      typed(
        count,
        windowMs,
        random,
        [20, 60, 180, 480, 900, 1500].map(s => s * SECOND),
        lognormal(0.2),
      ),
  },
  {
    key: 'progress-linear',
    role: 'tuning',
    description:
      'operations reporting progress that runs straight, and their start time; durations log-uniform from 2 s to 30 min',
    draw: (count, windowMs, random) =>
      withProgress(
        drawWorkload(count, windowMs, random, 2 * SECOND, 30 * MINUTE),
        'linear',
      ),
  },
  {
    key: 'lognormal-1.0',
    role: 'tuning',
    description: `5 kinds, durations log-normal (sigma 1.0) around ${minutes([0.5, 1.5, 5, 15, 40])}`,
    draw: (count, windowMs, random) =>
      typed(
        count,
        windowMs,
        random,
        [0.5, 1.5, 5, 15, 40].map(m => m * MINUTE),
        lognormal(1),
      ),
  },
];

const HELD_OUT: readonly Family[] = [
  {
    key: 'opaque-60s-2h',
    role: 'held-out',
    description:
      'opaque operations, durations log-uniform from 60 s to 2 h: nothing is done within the first minute',
    draw: (count, windowMs, random) =>
      drawWorkload(count, windowMs, random, MINUTE, 2 * HOUR),
  },
  {
    key: 'lognormal-0.5',
    role: 'held-out',
    description: `4 kinds, durations log-normal (sigma 0.5) around ${minutes([0.75, 2.5, 12, 35])}`,
    draw: (count, windowMs, random) =>
      typed(
        count,
        windowMs,
        random,
        [0.75, 2.5, 12, 35].map(m => m * MINUTE),
        lognormal(0.5),
      ),
  },
  {
    key: 'two-modes',
    role: 'held-out',
    description: `3 kinds with two modes each: 70 % log-normal (sigma 0.15) around ${minutes([2 / 3, 4, 20])}, 30 % around 6 times that`,
    draw: (count, windowMs, random) =>
      typed(
        count,
        windowMs,
        random,
        [40 * SECOND, 4 * MINUTE, 20 * MINUTE],
        (median, r) => lognormal(0.15)(r() < 0.3 ? 6 * median : median, r),
      ),
  },
  {
    key: 'pareto',
    role: 'held-out',
    description: `3 kinds with heavy tails: Pareto durations (alpha 1.5) from ${minutes([1 / 6, 1, 5])}`,
    draw: (count, windowMs, random) =>
      typed(
        count,
        windowMs,
        random,
        [10 * SECOND, MINUTE, 5 * MINUTE],
        (scale, r) => ({durationMs: scale / Math.pow(1 - r(), 1 / 1.5)}),
      ),
  },
  {
    key: 'fail-early',
    role: 'held-out',
    description: `3 kinds, log-normal (sigma 0.3) around ${minutes([2, 10, 30])}; 20 % of operations fail early, after 2 % to 20 % of that`,
    draw: (count, windowMs, random) =>
      typed(
        count,
        windowMs,
        random,
        [2 * MINUTE, 10 * MINUTE, 30 * MINUTE],
        (median, r) => {
          const {durationMs} = lognormal(0.3)(median, r);
          return r() < 0.2
            ? {durationMs: durationMs * (0.02 + 0.18 * r()), fails: true}
            : {durationMs};
        },
      ),
  },
  {
    key: 'progress-s-curve',
    role: 'held-out',
    description:
      'operations reporting progress on an S-curve (slow, fast, slow) and their start time; durations log-uniform from 10 s to 1 h',
    draw: (count, windowMs, random) =>
      withProgress(
        drawWorkload(count, windowMs, random, 10 * SECOND, HOUR),
        's-curve',
      ),
  },
  {
    key: 'progress-stuck',
    role: 'held-out',
    description:
      'one kind whose progress fields stay at 0 until it is done (it never reports progress); durations log-uniform from 20 s to 1 h',
    draw: (count, windowMs, random) =>
      withProgress(
        typed(count, windowMs, random, [0], (_median, r) => ({
          durationMs: logUniform(r, 20 * SECOND, HOUR),
        })),
        'stuck',
      ),
  },
];

/** Every family, the tuning ones first; each draw's warm-up marked. */
export const FAMILIES: readonly Family[] = [...TUNING, ...HELD_OUT].map(
  family => ({
    ...family,
    draw: (count, windowMs, random) =>
      markWarmUp(family.draw(count, windowMs, random)),
  }),
);
