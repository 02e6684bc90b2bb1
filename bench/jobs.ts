/**
 * The operations a workload is made of, and what the fake API answers for one at a given moment: the same
 * answers in the simulation (simulate.ts) and in the real runs (real-run.ts).
 */
import type {Operation} from '../functions/core/model';
import {logUniform} from './prng';

/** How an operation's reported share of work done moves with time. */
export type ProgressShape =
  /** In step with time, as Firestore's document counts do for an export of even documents. */
  | 'linear'
  /** Slow, then fast, then slow again: a logistic curve (Compute documents its `progress` as not linear). */
  | 's-curve'
  /** The progress fields are there but stay at 0 until the operation is done. */
  | 'stuck';

/** An operation of the workload: registered (and started) at `arrivalMs`, done `durationMs` later. */
export interface Job {
  arrivalMs: number;
  durationMs: number;
  /** Its kind, named in its metadata's `@type`; opaque without one. */
  kind?: string;
  /** Whether, and how, its metadata reports progress (with its start time). */
  progress?: ProgressShape;
  /** It ends with an error (early, as quota or permission failures do) instead of a response. */
  fails?: boolean;
  /** Left out of the figures: one of its kind's first operations, from which the forecaster learns. */
  warmUp?: boolean;
}

/** The host the simulated operations come from: no preset, so no owners' prior. */
export const SIMULATED_SERVICE = 'bench.googleapis.com';
/** Work units of a progress-reporting operation, as Firestore counts documents. */
const WORK_UNITS = 10_000;
/** Steepness of the S-curve: at a tenth of the time, about 1 % of the work is done. */
const S_CURVE_STEEPNESS = 10;

const logistic = (x: number) => 1 / (1 + Math.exp(-x));

/** The share of the work an operation of `shape` reports once `elapsed` (0 to 1) of its time has passed. */
export function shareDone(shape: ProgressShape, elapsed: number): number {
  if (shape === 'linear') return elapsed;
  if (shape === 'stuck') return elapsed >= 1 ? 1 : 0;
  const k = S_CURVE_STEEPNESS;
  const low = logistic(-k / 2);
  return (logistic(k * (elapsed - 0.5)) - low) / (logistic(k / 2) - low);
}

/** The Operation the fake API answers for `job` at `at`. */
export function operationAt(job: Job, at: number): Operation {
  const done = at >= job.arrivalMs + job.durationMs;
  const elapsed = Math.min(1, (at - job.arrivalMs) / job.durationMs);
  const share = job.progress ? shareDone(job.progress, elapsed) : 0;
  return {
    name: 'operations/bench',
    done,
    ...(done &&
      job.fails && {error: {code: 9, message: 'FAILED_PRECONDITION'}}),
    metadata: {
      ...(job.kind && {'@type': `type.googleapis.com/bench.${job.kind}`}),
      ...(job.progress && {
        startTime: new Date(job.arrivalMs).toISOString(),
        progressDocuments: {
          completedWork: String(Math.floor(share * WORK_UNITS)),
          estimatedWork: String(WORK_UNITS),
        },
      }),
    },
  };
}

/** `count` operations arriving uniformly over `windowMs`, lasting `minMs` to `maxMs`, log-uniformly. */
export function drawWorkload(
  count: number,
  windowMs: number,
  random: () => number,
  minMs = 2000,
  maxMs = 1_800_000,
): Job[] {
  return Array.from({length: count}, () => ({
    arrivalMs: random() * windowMs,
    durationMs: logUniform(random, minMs, maxMs),
  }));
}
