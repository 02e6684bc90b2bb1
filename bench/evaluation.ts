/**
 * The simulated evaluation: every workload family (families.ts), several seeds each, opwatch informed, opwatch's
 * default policy and the peers on the same draws, each in its own runtime with its own state (a simulation per
 * contender: its own learned durations, its own jitter). Every figure is the mean over the seeds with a 95 %
 * t-interval, and the targets of issue 24 are judged on the seeds' paired differences against Workflows.
 */
import {
  boundVerdict,
  compare,
  tInterval,
  type Interval,
  type Verdict,
} from './ci';
import {OPWATCH, OPWATCH_INFORMED, PEERS, type Contender} from './contenders';
import {FAMILIES, type Family, type FamilyRole} from './families';
import {seeded} from './prng';
import {figures, simulate, type Figures, type Timing} from './simulate';

/** The figures compared, all lower-is-better. */
export const FIGURES = [
  'pollsMean',
  'delayP50S',
  'delayP99S',
  'relativeP50',
  'relativeP99',
] as const;
export type FigureKey = (typeof FIGURES)[number];

export const WORKFLOWS = PEERS.find(peer => peer.key === 'workflows')!;

/** One contender on one family: its figures per seed, and their intervals. */
export interface SeededRow {
  contender: Contender;
  perSeed: Figures[];
  intervals: Record<FigureKey, Interval>;
}

/** One of issue 24's targets for the forecaster against Workflows, judged over the seeds. */
export interface TargetCheck {
  text: string;
  verdict: 'met' | 'not met' | 'tie';
  /** opwatch informed's figure, and the bound it must stay under, over the seeds. */
  opwatch: Interval;
  bound: Interval;
}

/** One family's evaluation. */
export interface FamilyEvaluation {
  key: string;
  role: FamilyRole;
  description: string;
  /** Operations drawn per seed (warm-up included), and how many count in the figures, on average. */
  jobsPerSeed: number;
  countedPerSeed: number;
  seeds: number[];
  rows: SeededRow[];
  targets: TargetCheck[];
}

/** The contenders of every family: opwatch informed first, then its default policy, then the peers. */
export const CONTENDERS: readonly Contender[] = [
  OPWATCH_INFORMED,
  OPWATCH,
  ...PEERS,
];

/** The workload and jitter seeds of seed `seed` of the family at `index`: distinct for every pair. */
const workloadSeed = (index: number, seed: number) => 1000 * (index + 1) + seed;
const jitterSeed = (seed: number) => 7 + seed;

function intervals(perSeed: readonly Figures[]): Record<FigureKey, Interval> {
  return Object.fromEntries(
    FIGURES.map(key => [key, tInterval(perSeed.map(f => f[key]))]),
  ) as Record<FigureKey, Interval>;
}

/** Issue 24's targets: polls at most Workflows', median delay within 0.5 s of it, p99 within 1.5 times. */
function targets(informed: SeededRow, workflows: SeededRow): TargetCheck[] {
  const check = (
    text: string,
    key: FigureKey,
    bound: (workflows: number) => number,
  ): TargetCheck => {
    const ours = informed.perSeed.map(f => f[key]);
    const bounds = workflows.perSeed.map(f => bound(f[key]));
    return {
      text,
      verdict: boundVerdict(ours.map((value, i) => value - bounds[i])),
      opwatch: tInterval(ours),
      bound: tInterval(bounds),
    };
  };
  return [
    check("polls/op <= Workflows'", 'pollsMean', w => w),
    check("delay p50 <= Workflows' + 0.5 s", 'delayP50S', w => w + 0.5),
    check("delay p99 <= 1.5 x Workflows'", 'delayP99S', w => 1.5 * w),
  ];
}

/** Simulates one family over `seeds`, `count` operations a seed arriving over `windowMs`. */
export function evaluateFamily(
  family: Family,
  options: {
    count: number;
    windowMs: number;
    seeds: readonly number[];
    timing: Timing;
  },
  contenders: readonly Contender[] = CONTENDERS,
): FamilyEvaluation {
  const index = FAMILIES.indexOf(family);
  const draws = options.seeds.map(seed =>
    family.draw(
      options.count,
      options.windowMs,
      seeded(workloadSeed(index, seed)),
    ),
  );
  const rows = contenders.map(contender => {
    const perSeed = draws.map((jobs, i) =>
      figures(
        simulate(
          contender,
          jobs,
          options.timing,
          seeded(jitterSeed(options.seeds[i])),
        ),
      ),
    );
    return {contender, perSeed, intervals: intervals(perSeed)};
  });
  const byKey = (key: string) => rows.find(r => r.contender.key === key);
  const informed = byKey(OPWATCH_INFORMED.key);
  const workflows = byKey(WORKFLOWS.key);
  return {
    key: family.key,
    role: family.role,
    description: family.description,
    jobsPerSeed: options.count,
    countedPerSeed:
      rows[0].perSeed.reduce((sum, f) => sum + f.operations, 0) / draws.length,
    seeds: [...options.seeds],
    rows,
    targets: informed && workflows ? targets(informed, workflows) : [],
  };
}

/** Every family, in order (tuning first), each reported through `log` as it is done. */
export function evaluateFamilies(options: {
  count: number;
  windowMs: number;
  seeds: readonly number[];
  timing: Timing;
  log: (line: string) => void;
}): FamilyEvaluation[] {
  return FAMILIES.map(family => {
    const began = Date.now();
    const result = evaluateFamily(family, options);
    options.log(
      `${family.key} (${family.role}): ${result.targets.map(t => `${t.text} ${t.verdict}`).join('; ')} [${((Date.now() - began) / 1000).toFixed(1)} s]`,
    );
    return result;
  });
}

/** opwatch informed against `other` on one figure of a family: a win or a loss only where intervals part. */
export function verdictAgainst(
  family: FamilyEvaluation,
  other: Contender,
  key: FigureKey,
): Verdict {
  const row = (c: Contender) =>
    family.rows.find(r => r.contender.key === c.key)!;
  return compare(
    row(OPWATCH_INFORMED).intervals[key],
    row(other).intervals[key],
  );
}
