/**
 * What the forecast-*.test.ts suites share: a fixed clock, no jitter, and the registrations, poll results and
 * learned durations they forecast from.
 */
import type {ForecastInput} from '../../../functions/forecast/forecast';
import type {DurationModel} from '../../../functions/forecast/durations';
import {DEFAULT_POLICY, type PollResult} from '../../../functions/core/policy';

export const START = 1_800_000_000_000;
export const noJitter = () => 0;
/** The default policy's longest wait. */
export const CAP = DEFAULT_POLICY.maxDelayMs;

/** A registration created at START, polled once, due to expire a day later; `overrides` replace any field. */
export function watch(overrides: Partial<ForecastInput> = {}): ForecastInput {
  return {
    attempts: 1,
    errorStreak: 0,
    deadline: START + 86_400_000,
    style: 'longrunning',
    createdAt: START,
    ...overrides,
  };
}

/** A poll that found the operation still running, with `metadata`. */
export const running = (
  metadata: Record<string, unknown> = {},
): PollResult => ({
  kind: 'operation',
  operation: {name: 'operations/x', done: false, metadata},
});

/** Firestore-style progress: `done` of 1000 documents, started at START. */
export const documents = (done: number) => ({
  '@type':
    'type.googleapis.com/google.firestore.admin.v1.ExportDocumentsMetadata',
  startTime: new Date(START).toISOString(),
  progressDocuments: {completedWork: String(done), estimatedWork: '1000'},
});

/** What 20 finished operations of a kind taught: their median duration and spread. */
export const history = (medianMs: number, sigma: number): DurationModel => ({
  count: 20,
  medianMs,
  sigma,
});
