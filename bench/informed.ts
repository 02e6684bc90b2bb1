/**
 * Informed polling on three workloads (issue 13), simulated: opwatch with its forecaster, opwatch's default
 * policy, and the peers, on the same draws, each workload with its targets marked met or not.
 *
 * - W1, opaque: durations log-uniform from 2 s to 30 min, no kind, no progress.
 * - W2, typed: several kinds, each log-normal around its own typical duration (sigma 0.2); the first 10 of each
 *   kind are the forecaster's warm-up and left out of every row's figures.
 * - W3, linear progress: durations as W1, each operation reporting its share done and its start time.
 */
import {OPWATCH, OPWATCH_INFORMED, PEERS} from './contenders';
import type {Row} from './policies';
import {logUniform, seeded} from './prng';
import {DEFAULT_TIMING, figures, simulate, type Job} from './simulate';

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

function opaque(count: number, windowMs: number, random: () => number): Job[] {
  return Array.from({length: count}, () => ({
    arrivalMs: random() * windowMs,
    durationMs: logUniform(random, 2000, 1_800_000),
  }));
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

const byKey = (rows: readonly Row[], key: string) =>
  rows.find(row => row.contender.key === key)!.figures;

/** Simulates W1, W2 and W3 with `count` operations each, arriving over `windowMs`. */
export function compareWorkloads(options: {
  count: number;
  windowMs: number;
  seed: number;
}): WorkloadResult[] {
  const {count, windowMs, seed} = options;
  const w1 = rowsFor(opaque(count, windowMs, seeded(seed)));
  const w2 = rowsFor(typed(count, windowMs, seeded(seed + 1)));
  const w3 = rowsFor(
    opaque(count, windowMs, seeded(seed + 2)).map(job => ({
      ...job,
      progress: true,
    })),
  );
  const informed = (rows: Row[]) => byKey(rows, OPWATCH_INFORMED.key);
  const workflows = (rows: Row[]) => byKey(rows, 'workflows');
  return [
    {
      key: 'W1',
      description:
        'opaque operations, durations log-uniform from 2 s to 30 min',
      rows: w1,
      targets: [
        {
          text: 'delay/duration p99 <= 0.6',
          met: informed(w1).relativeP99 <= 0.6,
        },
        {
          text: "polls/op no worse than Workflows'",
          met: informed(w1).pollsMean <= workflows(w1).pollsMean,
        },
        {
          text: "delay p50 no worse than Workflows'",
          met: informed(w1).delayP50S <= workflows(w1).delayP50S,
        },
      ],
    },
    {
      key: 'W2',
      description: `typed operations: ${KIND_MEDIANS_MS.length} kinds, log-normal (sigma ${KIND_SIGMA}) around ${KIND_MEDIANS_MS.map(ms => `${ms / 1000} s`).join(', ')}; the first ${WARM_UP_PER_KIND} of each kind are warm-up, left out of the figures`,
      rows: w2,
      targets: [
        {
          text: "polls/op <= 1/3 of Workflows'",
          met: informed(w2).pollsMean <= workflows(w2).pollsMean / 3,
        },
        {
          text: "delay p50 no worse than Workflows'",
          met: informed(w2).delayP50S <= workflows(w2).delayP50S,
        },
      ],
    },
    {
      key: 'W3',
      description:
        'operations reporting linear progress and their start time, durations as W1',
      rows: w3,
      targets: [
        {text: 'polls/op <= 5', met: informed(w3).pollsMean <= 5},
        {text: 'delay p50 <= 2 s', met: informed(w3).delayP50S <= 2},
      ],
    },
  ];
}
