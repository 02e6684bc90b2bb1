/**
 * Informed polling on three workloads (issue 13), simulated: opwatch with its forecaster, opwatch's default
 * policy, and the peers, on the same draws, each workload with its targets marked met or not.
 *
 * - W1, opaque: durations log-uniform from 2 s to 30 min, no kind, no progress.
 * - W2, typed: several kinds, each log-normal around its own typical duration (sigma 0.2); the first 10 of each
 *   kind are the forecaster's warm-up and left out of every row's figures.
 * - W3, linear progress: durations as W1, each operation reporting its share done and its start time.
 *
 * Each is also run for real, compressed (real-run.ts), for opwatch informed and its default policy.
 */
import {OPWATCH, OPWATCH_INFORMED, PEERS} from './contenders';
import type {BenchEnv} from './env';
import type {Row} from './policies';
import {seeded} from './prng';
import {realRun, type RealRun} from './real-run';
import {
  DEFAULT_TIMING,
  SIMULATED_SERVICE,
  drawWorkload,
  figures,
  simulate,
  type Figures,
  type Job,
} from './simulate';

const WORKFLOWS = PEERS.find(peer => peer.key === 'workflows')!;

/** One target: what it asks, and whether the informed row meets it. */
export interface Target {
  text: string;
  met: boolean;
}

/** One workload's comparison. */
export interface WorkloadResult {
  key: 'W1' | 'W2' | 'W3';
  description: string;
  rows: Row[];
  targets: Target[];
}

/** W2's kinds: typical durations from 20 s to 25 min. */
const KIND_MEDIANS_MS = [20_000, 60_000, 180_000, 480_000, 900_000, 1_500_000];
const KIND_SIGMA = 0.2;
export const WARM_UP_PER_KIND = 10;
const JITTER_SEED = 7;

/** A standard normal draw (Box-Muller). */
function normal(random: () => number): number {
  return (
    Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  );
}

function typed(count: number, windowMs: number, random: () => number): Job[] {
  const jobs: Job[] = Array.from({length: count}, () => {
    const kind = Math.floor(random() * KIND_MEDIANS_MS.length);
    return {
      arrivalMs: random() * windowMs,
      durationMs: KIND_MEDIANS_MS[kind] * Math.exp(KIND_SIGMA * normal(random)),
      kind: `Kind${kind}Metadata`,
    };
  });
  const seen = new Map<string, number>();
  for (const job of [...jobs].sort((a, b) => a.arrivalMs - b.arrivalMs)) {
    const n = (seen.get(job.kind!) ?? 0) + 1;
    seen.set(job.kind!, n);
    job.warmUp = n <= WARM_UP_PER_KIND;
  }
  return jobs;
}

function rowsFor(jobs: readonly Job[]): Row[] {
  return [OPWATCH_INFORMED, OPWATCH, ...PEERS].map(contender => ({
    contender,
    figures: figures(
      simulate(contender, jobs, DEFAULT_TIMING, seeded(JITTER_SEED)),
    ),
  }));
}

type WorkloadKey = WorkloadResult['key'];

const DESCRIPTIONS: Record<WorkloadKey, string> = {
  W1: 'opaque operations, durations log-uniform from 2 s to 30 min',
  W2: `typed operations: ${KIND_MEDIANS_MS.length} kinds, log-normal (sigma ${KIND_SIGMA}) around ${KIND_MEDIANS_MS.map(ms => `${ms / 1000} s`).join(', ')}; the first ${WARM_UP_PER_KIND} of each kind are warm-up, left out of the figures`,
  W3: 'operations reporting linear progress and their start time, durations as W1',
};

/** The three workloads' jobs: `count` operations each, arriving over `windowMs`. */
export function drawWorkloads(
  count: number,
  windowMs: number,
  seed: number,
): Record<WorkloadKey, Job[]> {
  return {
    W1: drawWorkload(count, windowMs, seeded(seed)),
    W2: typed(count, windowMs, seeded(seed + 1)),
    W3: drawWorkload(count, windowMs, seeded(seed + 2)).map(job => ({
      ...job,
      progress: true,
    })),
  };
}

/** The issue's targets for a workload, met or not by opwatch informed's figures against Workflows'. */
export function targetsFor(
  key: WorkloadKey,
  informed: Figures,
  workflows: Figures,
): Target[] {
  switch (key) {
    case 'W1':
      return [
        {
          text: 'delay/duration p99 <= 0.6',
          met: informed.relativeP99 <= 0.6,
        },
        {
          text: "polls/op no worse than Workflows'",
          met: informed.pollsMean <= workflows.pollsMean,
        },
        {
          text: "delay p50 no worse than Workflows'",
          met: informed.delayP50S <= workflows.delayP50S,
        },
      ];
    case 'W2':
      return [
        {
          text: "polls/op <= 1/3 of Workflows'",
          met: informed.pollsMean <= workflows.pollsMean / 3,
        },
        {
          text: "delay p50 no worse than Workflows'",
          met: informed.delayP50S <= workflows.delayP50S,
        },
      ];
    case 'W3':
      return [
        {text: 'polls/op <= 5', met: informed.pollsMean <= 5},
        {text: 'delay p50 <= 2 s', met: informed.delayP50S <= 2},
      ];
  }
}

const byKey = (rows: readonly Row[], key: string) =>
  rows.find(row => row.contender.key === key)!.figures;

/** Simulates W1, W2 and W3 with `count` operations each, arriving over `windowMs`. */
export function compareWorkloads(options: {
  count: number;
  windowMs: number;
  seed: number;
}): WorkloadResult[] {
  const draws = drawWorkloads(options.count, options.windowMs, options.seed);
  return (Object.keys(draws) as WorkloadKey[]).map(key => {
    const rows = rowsFor(draws[key]);
    return {
      key,
      description: DESCRIPTIONS[key],
      rows,
      targets: targetsFor(
        key,
        byKey(rows, OPWATCH_INFORMED.key),
        byKey(rows, WORKFLOWS.key),
      ),
    };
  });
}

/**
 * Each workload's real run against the base size. W1's targets compare medians a few percent apart, and at 150
 * operations the sample alone moves its median by more (the simulation of the same 150 jobs missed too): it runs
 * 6 times the operations, and compressed half as much, since compression stretches Firestore's round trips,
 * which are a large share of a 2 s operation. W2's kinds last up to 25 min: in the base window few of the long
 * kinds' operations would finish in time to teach the ones after them, so its window is 4 times as long.
 */
const REAL_SCALE: Record<
  WorkloadKey,
  {count: number; window: number; factor: number}
> = {
  W1: {count: 6, window: 1, factor: 0.5},
  W2: {count: 2, window: 4, factor: 2},
  W3: {count: 1, window: 1, factor: 1},
};

/** One workload's compressed real run, and Workflows simulated on the same jobs for its targets. */
export interface RealWorkload {
  key: WorkloadKey;
  run: RealRun;
  workflows: Figures;
  targets: Target[];
}

/**
 * W1, W2 and W3 for real (real-run.ts): opwatch informed and opwatch's default policy, each workload in a
 * collection of its own, from a host with no preset (no owners' prior), as in the simulation.
 */
export async function realWorkloads(
  env: BenchEnv,
  options: {
    count: number;
    windowMs: number;
    factor: number;
    latencyMs: number;
    seed: number;
    log: (line: string) => void;
  },
): Promise<RealWorkload[]> {
  const results: RealWorkload[] = [];
  for (const key of ['W1', 'W2', 'W3'] as const) {
    const scale = REAL_SCALE[key];
    const windowMs = options.windowMs * scale.window;
    const factor = options.factor * scale.factor;
    const jobs = drawWorkloads(
      options.count * scale.count,
      windowMs,
      options.seed,
    )[key];
    options.log(
      `${key}: ${jobs.length} operations each for ${OPWATCH_INFORMED.name} and ${OPWATCH.name}, time compressed ${factor}x...`,
    );
    const run = await realRun(env, {
      contenders: [OPWATCH_INFORMED, OPWATCH],
      jobs,
      windowMs,
      factor,
      service: SIMULATED_SERVICE,
      latencyMs: options.latencyMs,
      seed: options.seed,
      log: options.log,
    });
    const workflows = figures(
      simulate(WORKFLOWS, jobs, DEFAULT_TIMING, seeded(JITTER_SEED)),
    );
    const informed = run.rows.find(
      row => row.contender.key === OPWATCH_INFORMED.key,
    )!.real;
    results.push({
      key,
      run,
      workflows,
      targets: targetsFor(key, informed, workflows),
    });
  }
  return results;
}
