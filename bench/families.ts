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

/** A duration as the descriptions say it: 40 s, 2.5 min, 2 h. */
const span = (ms: number) =>
  ms < MINUTE
    ? `${ms / SECOND} s`
    : ms < HOUR
      ? `${Number((ms / MINUTE).toFixed(2))} min`
      : `${ms / HOUR} h`;
const spans = (list: readonly number[]) => list.map(span).join(', ');

/** Operations of no kind, durations log-uniform from `minMs` to `maxMs`, reporting progress of `shape` if given. */
function logUniformFamily(
  family: Pick<Family, 'key' | 'role'> & {what: string},
  minMs: number,
  maxMs: number,
  shape?: ProgressShape,
): Family {
  return {
    key: family.key,
    role: family.role,
    description: `${family.what}; durations log-uniform from ${span(minMs)} to ${span(maxMs)}`,
    draw: (count, windowMs, random) => {
      const jobs = drawWorkload(count, windowMs, random, minMs, maxMs);
      return shape ? withProgress(jobs, shape) : jobs;
    },
  };
}

/** One kind per entry of `medians`, each operation's duration drawn by `duration` from its kind's. */
function kindsFamily(
  family: Pick<Family, 'key' | 'role'>,
  medians: readonly number[],
  /** What follows "N kinds" in the description, given the medians as text. */
  describe: (medians: string) => string,
  duration: Parameters<typeof typed>[4],
): Family {
  return {
    ...family,
    description: `${medians.length} kinds${describe(spans(medians))}`,
    draw: (count, windowMs, random) =>
      typed(count, windowMs, random, medians, duration),
  };
}

/** One kind per entry of `medians`, durations log-normal with spread `sigma` around it. */
const lognormalFamily = (
  key: string,
  role: FamilyRole,
  sigma: number,
  medians: readonly number[],
) =>
  kindsFamily(
    {key, role},
    medians,
    around => `, durations log-normal (sigma ${sigma}) around ${around}`,
    lognormal(sigma),
  );

const TUNING: readonly Family[] = [
  logUniformFamily(
    {
      key: 'opaque-2s-30m',
      role: 'tuning',
      what: 'opaque operations (no kind, no progress)',
    },
    2 * SECOND,
    30 * MINUTE,
  ),
  lognormalFamily(
    'lognormal-0.2',
    'tuning',
    0.2,
    [20, 60, 180, 480, 900, 1500].map(s => s * SECOND),
  ),
  logUniformFamily(
    {
      key: 'progress-linear',
      role: 'tuning',
      what: 'operations reporting progress that runs straight, and their start time',
    },
    2 * SECOND,
    30 * MINUTE,
    'linear',
  ),
  lognormalFamily(
    'lognormal-1.0',
    'tuning',
    1,
    [0.5, 1.5, 5, 15, 40].map(m => m * MINUTE),
  ),
];

const HELD_OUT: readonly Family[] = [
  logUniformFamily(
    {
      key: 'opaque-60s-2h',
      role: 'held-out',
      what: 'opaque operations of which none is done within the first minute',
    },
    MINUTE,
    2 * HOUR,
  ),
  lognormalFamily(
    'lognormal-0.5',
    'held-out',
    0.5,
    [0.75, 2.5, 12, 35].map(m => m * MINUTE),
  ),
  kindsFamily(
    {key: 'two-modes', role: 'held-out'},
    [40 * SECOND, 4 * MINUTE, 20 * MINUTE],
    around =>
      ` with two modes each: 70 % log-normal (sigma 0.15) around ${around}, 30 % around 6 times that`,
    (median, r) => lognormal(0.15)(r() < 0.3 ? 6 * median : median, r),
  ),
  kindsFamily(
    {key: 'pareto', role: 'held-out'},
    [10 * SECOND, MINUTE, 5 * MINUTE],
    from => ` with heavy tails: Pareto durations (alpha 1.5) from ${from}`,
    (scale, r) => ({durationMs: scale / Math.pow(1 - r(), 1 / 1.5)}),
  ),
  kindsFamily(
    {key: 'fail-early', role: 'held-out'},
    [2 * MINUTE, 10 * MINUTE, 30 * MINUTE],
    around =>
      `, log-normal (sigma 0.3) around ${around}; 20 % of operations fail early, after 2 % to 20 % of that`,
    (median, r) => {
      const {durationMs} = lognormal(0.3)(median, r);
      return r() < 0.2
        ? {durationMs: durationMs * (0.02 + 0.18 * r()), fails: true}
        : {durationMs};
    },
  ),
  logUniformFamily(
    {
      key: 'progress-s-curve',
      role: 'held-out',
      what: 'operations reporting progress on an S-curve (slow, fast, slow) and their start time',
    },
    10 * SECOND,
    HOUR,
    's-curve',
  ),
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
