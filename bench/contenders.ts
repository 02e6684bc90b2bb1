/**
 * The polling policies the benchmark compares, as data: opwatch's default and what its peers do out of the box.
 *
 * A peer's backoff is written as a {@link PollPolicy}, so opwatch's own `decide()` runs it: each library waits
 * `initial x multiplier^(n-1)`, capped, after its n-th poll, which is `backoffDelay`'s formula; "full jitter" (a
 * uniform draw between 0 and that wait) is `jitter: 1`. Only the scheduler-tick design is a fixed period instead.
 */
import {COMPLETION_EVENTS_POLICY} from '../functions/core/completion-events';
import type {PollPolicy} from '../functions/core/model';
import {DEFAULT_POLICY} from '../functions/core/policy';

/** When a contender polls next: a backoff run through opwatch's `decide()`, or every `everyMs` on the clock. */
export type Schedule =
  | {policy: PollPolicy}
  | {everyMs: number}
  /** functions/forecast/: progress, learned durations per kind, else the default backoff. */
  | {forecast: true};

/**
 * Who makes the polls: `client`, an in-process loop that polls the moment a poll is due (the client libraries,
 * Workflows, a cron job); `opwatch`, opwatch as deployed (Cloud Scheduler calls `poll` every 60 s and each tick
 * polls what falls due within its 50 s budget).
 */
export type Runtime = 'client' | 'opwatch';

/** One policy in the comparison. */
export interface Contender {
  /** Short id, used in labels and files. */
  key: string;
  name: string;
  /** Where the numbers come from. */
  source: string;
  runtime: Runtime;
  schedule: Schedule;
  /** Completion events are on: each operation's completion entry gets it polled at once (opwatch only). */
  events?: boolean;
}

/** opwatch as deployed, with its default policy. */
export const OPWATCH: Contender = {
  key: 'opwatch',
  name: 'opwatch default',
  source:
    'functions/core/policy.ts DEFAULT_POLICY: 1 s x1.25 <= 60 s, 20 % jitter; 60 s ticks, 60 s budget with hand-over',
  runtime: 'opwatch',
  schedule: {policy: DEFAULT_POLICY},
};

/** opwatch with completion events on, and the lazier default backoff that COMPLETION_EVENTS=true gives. */
export const OPWATCH_EVENTS: Contender = {
  key: 'opwatch-events',
  name: 'opwatch + completion events',
  source:
    'functions/completions/: the completion entry makes the registration due now; COMPLETION_EVENTS_POLICY 60 s x4 <= 30 min, 20 % jitter',
  runtime: 'opwatch',
  schedule: {policy: COMPLETION_EVENTS_POLICY},
  events: true,
};

/** opwatch as deployed, informed: the forecaster the tick calls in place of the bare policy. */
export const OPWATCH_INFORMED: Contender = {
  key: 'opwatch-informed',
  name: 'opwatch informed',
  source:
    'functions/forecast/forecast.ts: progress, learned durations per kind, else DEFAULT_POLICY; 60 s ticks, 60 s budget',
  runtime: 'opwatch',
  schedule: {forecast: true},
};

/** What opwatch's peers do by default, each in its own runtime. */
export const PEERS: readonly Contender[] = [
  {
    key: 'gax-node',
    name: 'google-gax (Node)',
    source:
      'createDefaultBackoffSettings(): 100 ms x1.3 <= 60 s; longrunning.ts waits, then multiplies; no jitter',
    runtime: 'client',
    schedule: {
      policy: {
        initialDelayMs: 100,
        multiplier: 1.3,
        maxDelayMs: 60_000,
        jitter: 0,
      },
    },
  },
  {
    key: 'api-core-py',
    name: 'google-api-core (Python)',
    source:
      'polling.DEFAULT_POLLING: 1 s x1.5 <= 20 s; exponential_sleep_generator yields uniform(0, delay): full jitter',
    runtime: 'client',
    schedule: {
      policy: {
        initialDelayMs: 1000,
        multiplier: 1.5,
        maxDelayMs: 20_000,
        jitter: 1,
      },
    },
  },
  {
    key: 'workflows',
    name: 'Cloud Workflows connectors',
    source: 'documented connector polling: 1 s x1.25 <= 60 s, no jitter',
    runtime: 'client',
    schedule: {
      policy: {
        initialDelayMs: 1000,
        multiplier: 1.25,
        maxDelayMs: 60_000,
        jitter: 0,
      },
    },
  },
  {
    key: 'gax-go',
    name: 'Go (gax-go Backoff)',
    source:
      'longrunning Wait: Backoff{Initial: 1 s, Max: 60 s}, Multiplier 2; Pause() = 1 + rand(cur) ns: full jitter',
    runtime: 'client',
    schedule: {
      policy: {
        initialDelayMs: 1000,
        multiplier: 2,
        maxDelayMs: 60_000,
        jitter: 1,
      },
    },
  },
  {
    key: 'cron-2min',
    name: 'scheduler tick (prediction_framework)',
    source:
      'LONG_RUNNING_TASKS_POLLER_CONFIG "*/2 * * * *": every pending task polled once per tick',
    runtime: 'client',
    schedule: {everyMs: 120_000},
  },
];

/** The same contender run by another runtime (to tell the policy's share from the runtime's). */
export function under(contender: Contender, runtime: Runtime): Contender {
  return {
    ...contender,
    key: `${contender.key}@${runtime}`,
    name: `${contender.name} @ ${runtime}`,
    runtime,
  };
}
