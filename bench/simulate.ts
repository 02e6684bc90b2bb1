/**
 * A discrete-event simulation of polling: when each poll of each operation goes out, and when its notification
 * is published, in uncompressed time.
 *
 * A policy's next poll comes from opwatch's own `decide()` (functions/polling/policy.ts). The `opwatch` runtime follows
 * functions/polling/poller.ts: Cloud Scheduler starts a tick every 60 s; the tick takes the lease, then reads the due
 * registrations, polls them, sleeps 1 s and reads again, until its budget is spent or (nothing in flight) nothing
 * falls due before it is. A registration made after such an early end wakes a tick of its own
 * (functions/polling/tick-wake.ts), which starts `wakeDelayMs` later and polls to the end of the slot.
 *
 * With completion events (functions/completions/), an operation's completion entry arrives `eventDelayMs` after it
 * is done and makes its registration due: a running tick polls it at its next read; between ticks the
 * `completions` function runs a tick of its own at once (three Firestore round trips: the write, the lease, a page).
 */
import {forecast, type ForecastInput} from '../functions/forecast/forecast';
import {
  durationIncrement,
  durationModel,
  observedDuration,
  type DurationSums,
} from '../functions/forecast/durations';
import {operationKind} from '../functions/forecast/kind';
import type {Operation} from '../functions/model';
import {decide} from '../functions/polling/policy';
import {WAKE_SLOT_MS, WakeTimes} from '../functions/polling/wake-times';
import {DEFAULT_TIMEOUT_MS} from '../functions/registration/schemas';
import type {Contender, Schedule} from './contenders';
import {logUniform} from './prng';
import {mean, quantile} from './stats';

/** An operation of the workload: registered (and started) at `arrivalMs`, done `durationMs` later. */
export interface Job {
  arrivalMs: number;
  durationMs: number;
  /** Its kind, named in its metadata's `@type`; opaque without one. */
  kind?: string;
  /** Whether its metadata reports (linear) progress and its start time. */
  progress?: boolean;
  /** Left out of the figures: one of its kind's first operations, from which the forecaster learns. */
  warmUp?: boolean;
}

/** The host the simulated operations come from: no preset, so no owners' prior. */
export const SIMULATED_SERVICE = 'bench.googleapis.com';
/** Work units of a progress-reporting operation, as Firestore counts documents. */
const WORK_UNITS = 10_000;

/** The Operation the fake API answers for `job` at `at`. */
export function operationAt(job: Job, at: number): Operation {
  const done = at >= job.arrivalMs + job.durationMs;
  const fraction = Math.min(1, (at - job.arrivalMs) / job.durationMs);
  return {
    name: 'operations/bench',
    done,
    metadata: {
      ...(job.kind && {'@type': `type.googleapis.com/bench.${job.kind}`}),
      ...(job.progress && {
        startTime: new Date(job.arrivalMs).toISOString(),
        progressDocuments: {
          completedWork: String(Math.floor(fraction * WORK_UNITS)),
          estimatedWork: String(WORK_UNITS),
        },
      }),
    },
  };
}

/** The clock of the runtimes, in milliseconds. */
export interface Timing {
  /** One `operations.get`. */
  latencyMs: number;
  /** Cloud Scheduler's period. */
  tickEveryMs: number;
  /** POLL_BUDGET_SECONDS. */
  budgetMs: number;
  /** The poller's longest sleep between two reads of due registrations. */
  recheckMs: number;
  /** The poller's wake-ups for its own registrations round up to a multiple of this. */
  wakeSlotMs: number;
  /** One Firestore round trip: the lease, a page of due registrations, the next due time. */
  firestoreMs: number;
  /** POLL_CONCURRENCY. */
  concurrency: number;
  /**
   * From an operation's end to its completion entry reaching `completions`: the Pub/Sub push. Cloud Logging's own
   * routing of the entry to the sink is not in it (see the report).
   */
  eventDelayMs: number;
  /**
   * From a create that no running tick will poll to its woken tick's first read: the lease read, the publish and
   * Pub/Sub's push to `poll`, the claim.
   */
  wakeDelayMs: number;
}

/** opwatch's defaults (the budget as long as the period: the next tick takes over), 50 ms per poll and 10 ms per Firestore round trip. */
export const DEFAULT_TIMING: Timing = {
  latencyMs: 50,
  tickEveryMs: 60_000,
  budgetMs: 60_000,
  recheckMs: 1000,
  wakeSlotMs: WAKE_SLOT_MS,
  firestoreMs: 10,
  concurrency: 32,
  eventDelayMs: 100,
  wakeDelayMs: 130,
};

/** How one operation's watch went. */
export interface Watched {
  polls: number;
  /** From the moment the operation was done to the publish of its notification. */
  delayMs: number;
  durationMs: number;
  warmUp?: boolean;
}

/** The figures the benchmark reports for a policy. */
export interface Figures {
  operations: number;
  pollsMean: number;
  delayP50S: number;
  delayP99S: number;
  /** Delay over the operation's duration. */
  relativeP50: number;
  relativeP99: number;
}

/** `count` operations arriving uniformly over `windowMs`, lasting 2 s to 30 min, log-uniformly. */
export function drawWorkload(
  count: number,
  windowMs: number,
  random: () => number,
): Job[] {
  return Array.from({length: count}, () => ({
    arrivalMs: random() * windowMs,
    durationMs: logUniform(random, 2000, 1_800_000),
  }));
}

interface Watch {
  job: Job;
  /** When its completion entry arrives: never without completion events. */
  eventAt: number;
  registration: ForecastInput;
  nextPollAt: number;
  polls: number;
  finished: boolean;
}

/** When a schedule polls first, and what follows a poll: the next poll's time, or undefined once it ends. */
interface Stepper {
  first(arrivalMs: number): number;
  after(
    watch: Watch,
    /** The Operation as the API saw it when the poll arrived. */
    operation: Operation,
    answeredAt: number,
    random: () => number,
  ): number | undefined;
}

function stepper(schedule: Schedule): Stepper {
  if ('forecast' in schedule) return forecaster();
  if ('everyMs' in schedule) {
    const next = (at: number) =>
      Math.ceil(at / schedule.everyMs) * schedule.everyMs;
    return {
      first: next,
      after: (_watch, operation, answeredAt) =>
        operation.done ? undefined : next(answeredAt),
    };
  }
  return {
    // store.ts registers with nextPollAt = now.
    first: arrivalMs => arrivalMs,
    after(watch, operation, answeredAt, random) {
      const result = {kind: 'operation' as const, operation};
      const transition = decide(watch.registration, result, answeredAt, random);
      watch.registration.attempts = transition.attempts;
      return transition.outcome ? undefined : transition.nextPollAt;
    },
  };
}

/**
 * functions/forecast/ as the poller runs it: each poll's Operation through `forecast()`, with what the kind's
 * finished operations taught it (the same sums the poller keeps in Firestore, here in memory).
 */
function forecaster(): Stepper {
  const learned = new Map<string, DurationSums>();
  return {
    first: arrivalMs => arrivalMs,
    after(watch, operation, answeredAt, random) {
      const {registration} = watch;
      const kind = operationKind(SIMULATED_SERVICE, operation);
      const sums = kind && learned.get(kind.key);
      const {transition} = forecast(
        registration,
        {kind: 'operation', operation},
        answeredAt,
        random,
        {durations: durationModel(sums)},
      );
      if (transition.outcome === 'succeeded' && kind) {
        const duration = observedDuration(registration, operation, answeredAt);
        if (duration !== undefined) {
          const add = durationIncrement(duration);
          learned.set(kind.key, {
            count: (sums?.count ?? 0) + add.count,
            sumLog: (sums?.sumLog ?? 0) + add.sumLog,
            sumLogSquares: (sums?.sumLogSquares ?? 0) + add.sumLogSquares,
          });
        }
      }
      Object.assign(registration, {
        attempts: transition.attempts,
        lastPolledAt: answeredAt,
        lastOperation: operation,
      });
      return transition.outcome ? undefined : transition.nextPollAt;
    },
  };
}

/** Simulates every job under a contender; the results come in no particular order. */
export function simulate(
  contender: Contender,
  jobs: readonly Job[],
  timing: Timing,
  random: () => number,
): Watched[] {
  if (!Object.values(timing).every(Number.isFinite))
    throw new Error(`timing must be finite: ${JSON.stringify(timing)}`);
  const steps = stepper(contender.schedule);
  const policy =
    'policy' in contender.schedule ? contender.schedule.policy : undefined;
  const results: Watched[] = [];
  const watch = (job: Job): Watch => ({
    job,
    eventAt: contender.events
      ? job.arrivalMs + job.durationMs + timing.eventDelayMs
      : Infinity,
    registration: {
      attempts: 0,
      errorStreak: 0,
      deadline: job.arrivalMs + DEFAULT_TIMEOUT_MS,
      pollPolicy: policy,
      style: 'longrunning',
      createdAt: job.arrivalMs,
    },
    nextPollAt: steps.first(job.arrivalMs),
    polls: 0,
    finished: false,
  });
  // The fake operations API decides `done` when the request arrives and answers `latencyMs` later.
  const poll = (w: Watch, at: number) => {
    w.polls++;
    const doneAt = w.job.arrivalMs + w.job.durationMs;
    const answeredAt = at + timing.latencyMs;
    const next = steps.after(w, operationAt(w.job, at), answeredAt, random);
    if (next !== undefined) {
      w.nextPollAt = next;
      return;
    }
    w.finished = true;
    results.push({
      polls: w.polls,
      delayMs: answeredAt - doneAt,
      durationMs: w.job.durationMs,
      warmUp: w.job.warmUp,
    });
  };

  if (contender.runtime === 'client') {
    // In arrival order, so what a forecaster learns comes from operations that finished before.
    for (const job of [...jobs].sort((a, b) => a.arrivalMs - b.arrivalMs)) {
      const w = watch(job);
      while (!w.finished) poll(w, w.nextPollAt);
    }
    return results;
  }

  const arrivals = [...jobs].sort((a, b) => a.arrivalMs - b.arrivalMs);
  let admitted = 0;
  let pending: Watch[] = [];
  const admit = (by: number) => {
    while (admitted < arrivals.length && arrivals[admitted].arrivalMs <= by)
      pending.push(watch(arrivals[admitted++]));
  };
  const dueAt = (w: Watch) => Math.min(w.nextPollAt, w.eventAt);
  for (let tick = 0; results.length < jobs.length; tick += timing.tickEveryMs) {
    const deadline = tick + timing.budgetMs;
    let now = tick + timing.firestoreMs; // the lease
    let lastRead = now;
    // What this tick polled and left pending: it wakes when the first of them falls due (wake-times.ts).
    const wakeTimes = new WakeTimes(timing.wakeSlotMs);
    for (;;) {
      let idle = false;
      while (now < deadline) {
        const dueBy = now;
        lastRead = dueBy;
        now += timing.firestoreMs; // a page of due registrations
        admit(dueBy);
        const due = pending
          .filter(w => dueAt(w) <= dueBy)
          .sort((a, b) => dueAt(a) - dueAt(b));
        due.forEach((w, i) => {
          const queued = Math.floor(i / timing.concurrency) * timing.latencyMs;
          poll(w, now + queued);
          if (!w.finished) wakeTimes.add(w.nextPollAt);
        });
        pending = pending.filter(w => !w.finished);
        const recheckAt = now + timing.recheckMs;
        // The sweep waits for its polls (their API calls, then their writes) before it reads again.
        if (due.length > 0)
          now +=
            Math.ceil(due.length / timing.concurrency) * timing.latencyMs +
            timing.firestoreMs;
        const known = wakeTimes.next(now) ?? Infinity;
        const wakeAt = Math.min(recheckAt, known);
        if (!(known < deadline)) {
          now += timing.firestoreMs; // when the next registration falls due
          admit(now);
          const nextDue = Math.min(...pending.map(w => w.nextPollAt));
          idle = !(nextDue < deadline);
          if (idle) break;
        }
        now = Math.max(now, Math.min(wakeAt, deadline));
      }
      // Ended early: the next registration made before the slot's end wakes a tick, which polls to that end.
      const woken = arrivals[admitted];
      if (!idle || !woken || woken.arrivalMs >= deadline) break;
      now = woken.arrivalMs + timing.wakeDelayMs;
    }
    if (!contender.events) continue;
    // Until the next tick, completion entries are the completions function's: a tick of its own, at once.
    const nextTick = tick + timing.tickEveryMs;
    admit(nextTick);
    const evented = pending
      .filter(w => w.eventAt > lastRead && w.eventAt < nextTick)
      .sort((a, b) => a.eventAt - b.eventAt);
    for (const w of evented)
      poll(w, Math.max(w.eventAt, now) + 3 * timing.firestoreMs);
    pending = pending.filter(w => !w.finished);
  }
  return results;
}

/** The reported figures of a set of watches, warm-up left out. */
export function figures(all: readonly Watched[]): Figures {
  const watched = all.filter(w => !w.warmUp);
  const delays = watched.map(w => w.delayMs / 1000);
  const relative = watched.map(w => w.delayMs / w.durationMs);
  return {
    operations: watched.length,
    pollsMean: mean(watched.map(w => w.polls)),
    delayP50S: quantile(delays, 0.5),
    delayP99S: quantile(delays, 0.99),
    relativeP50: quantile(relative, 0.5),
    relativeP99: quantile(relative, 0.99),
  };
}
