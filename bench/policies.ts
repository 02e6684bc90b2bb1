/**
 * Stage 1, simulated: opwatch's default against its peers on one seeded workload, the same workload under the
 * other runtime (to tell the policy's share of a figure from the runtime's), and a search for a default that
 * dominates more peers.
 */
import type {PollPolicy} from '../functions/core/model';
import {DEFAULT_POLICY} from '../functions/core/policy';
import {OPWATCH, PEERS, under, type Contender} from './contenders';
import {seeded} from './prng';
import {
  DEFAULT_TIMING,
  drawWorkload,
  figures,
  simulate,
  type Figures,
  type Job,
} from './simulate';

/** A contender and its simulated figures. */
export interface Row {
  contender: Contender;
  figures: Figures;
}

/** A candidate default, the peers it beats or ties on every figure, and its figures. */
export interface Candidate {
  policy: PollPolicy;
  figures: Figures;
  dominates: string[];
  /** Whether it is at least as good as the current default on every figure. */
  dominatesDefault: boolean;
}

/** What the simulated comparison found. */
export interface SimulatedComparison {
  jobs: number;
  windowMs: number;
  rows: Row[];
  /** opwatch's policy in a client loop, and each peer's policy in opwatch's runtime. */
  swapped: Row[];
  /** opwatch's default with the former 50 s budget and no hand-over: how much of its delay the gap was. */
  narrowGap: Row;
  /** How many policies the search tried. */
  searched: number;
  candidates: Candidate[];
}

/** The figures compared, all lower-is-better. */
export const FIGURES = [
  'pollsMean',
  'delayP50S',
  'delayP99S',
  'relativeP50',
  'relativeP99',
] as const;

/** Whether `a` is as good as `b` (lower or equal) on every figure. */
export function dominates(a: Figures, b: Figures): boolean {
  return FIGURES.every(key => a[key] <= b[key]);
}

const JITTER_SEED = 7;

function run(
  contender: Contender,
  jobs: readonly Job[],
  timing = DEFAULT_TIMING,
): Row {
  const watched = simulate(contender, jobs, timing, seeded(JITTER_SEED));
  return {contender, figures: figures(watched)};
}

/** The grid searched: exponential backoff with jitter (some: it keeps a burst from polling in lock-step). */
function grid(): PollPolicy[] {
  const policies: PollPolicy[] = [];
  for (const initialDelayMs of [500, 1000, 2000])
    for (const multiplier of [1.15, 1.25, 1.4, 1.6, 2])
      for (const maxDelayMs of [30_000, 40_000, 45_000, 50_000, 60_000])
        for (const jitter of [0.1, 0.2, 0.5, 1])
          policies.push({initialDelayMs, multiplier, maxDelayMs, jitter});
  return policies;
}

function evaluate(
  policy: PollPolicy,
  jobs: readonly Job[],
  peers: readonly Row[],
  current: Figures,
): Candidate {
  const contender = {...OPWATCH, schedule: {policy}};
  const {figures: result} = run(contender, jobs);
  return {
    policy,
    figures: result,
    dominates: peers
      .filter(peer => dominates(result, peer.figures))
      .map(peer => peer.contender.name),
    dominatesDefault: dominates(result, current),
  };
}

/** Most peers dominated first, then those that also dominate the default, then the smallest sum of log-ratios. */
function rank(current: Figures) {
  const score = (c: Candidate) =>
    FIGURES.reduce(
      (sum, key) => sum + Math.log(c.figures[key] / current[key]),
      0,
    );
  return (a: Candidate, b: Candidate) =>
    b.dominates.length - a.dominates.length ||
    Number(b.dominatesDefault) - Number(a.dominatesDefault) ||
    score(a) - score(b);
}

/**
 * Simulates `jobCount` operations arriving over `windowMs`; the search runs on the first `searchJobs` of them and
 * the best candidates are then re-run on all.
 */
export function comparePolicies(options: {
  jobCount: number;
  windowMs: number;
  searchJobs: number;
  seed: number;
  log: (line: string) => void;
}): SimulatedComparison {
  const jobs = drawWorkload(
    options.jobCount,
    options.windowMs,
    seeded(options.seed),
  );
  const rows = [OPWATCH, ...PEERS].map(contender => run(contender, jobs));
  const swapped = [
    under(OPWATCH, 'client'),
    ...PEERS.filter(peer => 'policy' in peer.schedule).map(peer =>
      under(peer, 'opwatch'),
    ),
  ].map(contender => run(contender, jobs));
  const [current, ...peers] = rows;
  const narrowGap = run(
    {...OPWATCH, name: `${OPWATCH.name}, former 50 s budget`},
    jobs,
    {...DEFAULT_TIMING, budgetMs: 50_000},
  );

  const began = Date.now();
  const policies = grid();
  const searchJobs = jobs.slice(0, options.searchJobs);
  const searchPeers = PEERS.map(contender => run(contender, searchJobs));
  const searchCurrent = run(OPWATCH, searchJobs).figures;
  const shortlist = policies
    .map(policy => evaluate(policy, searchJobs, searchPeers, searchCurrent))
    .sort(rank(searchCurrent))
    .slice(0, 10);
  const candidates = shortlist
    .map(c => evaluate(c.policy, jobs, peers, current.figures))
    .sort(rank(current.figures));
  options.log(
    `searched ${policies.length} policies in ${((Date.now() - began) / 1000).toFixed(1)} s`,
  );
  return {
    jobs: jobs.length,
    windowMs: options.windowMs,
    rows,
    swapped,
    narrowGap,
    searched: policies.length,
    candidates,
  };
}

/** Whether the current default is among the candidates (it is on the grid). */
export function isDefault(policy: PollPolicy): boolean {
  return (Object.keys(DEFAULT_POLICY) as (keyof PollPolicy)[]).every(
    key => policy[key] === DEFAULT_POLICY[key],
  );
}
