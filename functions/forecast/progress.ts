/**
 * Progress as operations report it, and the finish it points to.
 *
 * Read from the fields the watched families use: Firestore's `progressDocuments` / `progressBytes`
 * (`{completedWork, estimatedWork}`) and `startTime`; Spanner's `progress.progressPercent` and `progress.startTime`
 * (a list of them for a DDL change of several statements); Compute's `progress` and `startTime`; Service
 * Management's `progressPercentage`; Vertex AI's `progressPercentage` and `genericMetadata.createTime`.
 */
import type {Operation} from '../core/model';
import {STEADY_TOLERANCE} from './constants';
import {parseTime} from './durations';

/** What one poll said about progress. */
export interface ProgressReading {
  /** Share of the work done, in [0, 1]. */
  fraction: number;
  /** When the operation says it started, if it does. */
  startedAt?: number;
}

const number = (value: unknown) =>
  typeof value === 'number' || (typeof value === 'string' && value !== '')
    ? Number(value)
    : undefined;

function percent(value: unknown): number | undefined {
  const n = number(value);
  return n !== undefined && Number.isFinite(n) && n >= 0 && n <= 100
    ? n / 100
    : undefined;
}

function work(value: unknown): number | undefined {
  const {completedWork, estimatedWork} = (value ?? {}) as Record<
    string,
    unknown
  >;
  const done = number(completedWork);
  const total = number(estimatedWork);
  if (!(total! > 0 && total! < Infinity && done! >= 0 && done! < Infinity))
    return undefined;
  // More done than estimated is an estimate that fell short (Firestore's are estimates): all but done.
  return Math.min(1, done! / total!);
}

/** Spanner's `progress`: one OperationProgress, or one per DDL statement (their mean, from the first's start). */
function spanner(
  progress: unknown,
): {fraction?: number; startedAt?: number} | undefined {
  const steps = (Array.isArray(progress) ? progress : [progress]).filter(
    (step): step is Record<string, unknown> =>
      typeof step === 'object' && step !== null,
  );
  const fractions = steps.map(step => percent(step.progressPercent));
  if (steps.length === 0 || fractions.some(f => f === undefined))
    return undefined;
  return {
    fraction:
      (fractions as number[]).reduce((sum, f) => sum + f, 0) / steps.length,
    startedAt: parseTime(steps[0].startTime),
  };
}

/** The progress `operation` reports, or undefined when it reports none. */
export function readProgress(
  operation: Operation | undefined,
): ProgressReading | undefined {
  if (!operation) return undefined;
  const metadata = (operation.metadata ?? {}) as Record<string, unknown>;
  const generic = (metadata.genericMetadata ?? {}) as Record<string, unknown>;
  const nested = spanner(metadata.progress);
  const fraction =
    work(metadata.progressDocuments) ??
    work(metadata.progressBytes) ??
    nested?.fraction ??
    percent(metadata.progressPercent) ??
    percent(metadata.progressPercentage) ??
    percent(operation.progress);
  if (fraction === undefined) return undefined;
  const startedAt =
    nested?.startedAt ??
    parseTime(metadata.startTime) ??
    parseTime(operation.startTime) ??
    parseTime(generic.createTime) ??
    parseTime(metadata.createTime);
  return {fraction, startedAt};
}

/** A finish extrapolated from progress. */
export interface ProgressEstimate {
  doneAt: number;
  /**
   * True when the rate since the previous poll agrees with the rate since the start: progress that runs
   * straight. A curve (Compute documents its `progress` as not linear) or a stall makes the two disagree.
   */
  steady: boolean;
}

/**
 * When the work will be done if it goes on at its average rate since `startedAt` (the operation's start, or the
 * watch's when the operation names none); undefined until some progress shows.
 */
export function extrapolate(
  now: ProgressReading,
  at: number,
  startedAt: number,
  previous?: {reading: ProgressReading; at: number},
): ProgressEstimate | undefined {
  const elapsed = at - startedAt;
  if (!(now.fraction > 0) || !(elapsed > 0)) return undefined;
  const rate = now.fraction / elapsed;
  const doneAt = at + (1 - now.fraction) / rate;
  if (!previous || !(at > previous.at)) return {doneAt, steady: false};
  const recentRate =
    (now.fraction - previous.reading.fraction) / (at - previous.at);
  const steady =
    recentRate > 0 && Math.abs(recentRate - rate) <= STEADY_TOLERANCE * rate;
  return {doneAt, steady};
}
