/**
 * A discrete-event simulation of polling: when each poll of each operation goes out, and when its notification
 * is published, in uncompressed time.
 *
 * A policy's next poll comes from opwatch's own `decide()` (functions/core/policy.ts). The `opwatch` runtime follows
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
import {learningKind} from '../functions/forecast/kind';
import type {Operation} from '../functions/core/model';
import {decide} from '../functions/core/policy';
import {WAKE_SLOT_MS, WakeTimes} from '../functions/polling/wake-times';
import {DEFAULT_TIMEOUT_MS} from '../functions/core/schemas';
import type {Contender, Schedule} from './contenders';
import type {Deployment} from './deployed';
import {SIMULATED_SERVICE, operationAt, type Job} from './jobs';
import {mean, quantile} from './stats';

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
  /** From a publish request to Pub/Sub accepting it: the end of every contender's delay. */
  publishMs: number;
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

/**
 * The model's own times: 50 ms per poll, 10 ms per Firestore round trip, 30 ms per publish (assumptions, not
 * measured on Google's side), and the poller's recheck and wake slot as coded. The deployment's settings come
 * from infra/ ({@link timingFor}).
 */
export const MODEL_TIMING = {
  latencyMs: 50,
  recheckMs: 1000,
  wakeSlotMs: WAKE_SLOT_MS,
  firestoreMs: 10,
  publishMs: 30,
  eventDelayMs: 100,
  wakeDelayMs: 130,
} satisfies Omit<Timing, 'tickEveryMs' | 'budgetMs' | 'concurrency'>;

/** The runtime's clock with a deployment's period, budget and concurrency. */
export function timingFor(deployment: Deployment): Timing {
  return {
    ...MODEL_TIMING,
    tickEveryMs: deployment.periodSeconds * 1000,
    budgetMs: deployment.budgetSeconds * 1000,
    concurrency: deployment.concurrency,
  };
}

/** How one operation's watch went. */
export interface Watched {
  polls: number;
  /** From the moment the operation was done to Pub/Sub accepting its notification. */
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
 * finished operations taught it (the same sums the poller keeps in Firestore, here in memory: one owner, and a
 * run far shorter than the history's half-life, so neither balance nor decay changes them).
 */
function forecaster(): Stepper {
  const learned = new Map<string, DurationSums>();
  return {
    first: arrivalMs => arrivalMs,
    after(watch, operation, answeredAt, random) {
      const {registration} = watch;
      // As functions/polling/registration-poll.ts: a kind's own history, or its service's for no kind.
      const kind = learningKind(SIMULATED_SERVICE, operation);
      const sums = learned.get(kind.key);
      const {transition} = forecast(
        registration,
        {kind: 'operation', operation},
        answeredAt,
        random,
        {durations: durationModel(sums)},
      );
      const ended = transition.outcome;
      // As the poller: only an operation seen running at least once teaches its kind.
      const seenRunning = registration.lastOperation !== undefined;
      if (seenRunning && (ended === 'succeeded' || ended === 'failed')) {
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
  const simulation = simulationOf(contender, timing, random);
  const arrivals = [...jobs].sort((a, b) => a.arrivalMs - b.arrivalMs);
  if (contender.runtime === 'client') {
    // In arrival order, so what a forecaster learns comes from operations that finished before.
    for (const job of arrivals) {
      const w = simulation.watch(job);
      while (!w.finished) simulation.poll(w, w.nextPollAt);
    }
    return simulation.results;
  }
  const pending = new Pending(arrivals, simulation.watch);
  for (
    let tick = 0;
    simulation.results.length < jobs.length;
    tick += timing.tickEveryMs
  ) {
    const events = contender.events === true;
    const ended = runTick(simulation, pending, tick, events);
    if (events)
      completionTicks(simulation, pending, tick + timing.tickEveryMs, ended);
  }
  return simulation.results;
}

/** A contender's watches: how one starts, what a poll of it does, and the watches that ended. */
interface Simulation {
  timing: Timing;
  watch(job: Job): Watch;
  poll(w: Watch, at: number): void;
  results: Watched[];
}

/** `contender`'s watches under `timing`, jitter drawn from `random`. */
function simulationOf(
  contender: Contender,
  timing: Timing,
  random: () => number,
): Simulation {
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
      delayMs: answeredAt + timing.publishMs - doneAt,
      durationMs: w.job.durationMs,
      warmUp: w.job.warmUp,
    });
  };
  return {timing, watch, poll, results};
}

/** The registrations opwatch holds: those made so far (in arrival order) and not finished. */
class Pending {
  watches: Watch[] = [];
  private admitted = 0;

  constructor(
    private readonly arrivals: readonly Job[],
    private readonly watch: (job: Job) => Watch,
  ) {}

  /** Registers every job that arrived by `by`. */
  admit(by: number): void {
    while (
      this.admitted < this.arrivals.length &&
      this.arrivals[this.admitted].arrivalMs <= by
    )
      this.watches.push(this.watch(this.arrivals[this.admitted++]));
  }

  /** The next job to be registered, if any. */
  next(): Job | undefined {
    return this.arrivals[this.admitted];
  }

  /** Forgets the watches that ended. */
  prune(): void {
    this.watches = this.watches.filter(w => !w.finished);
  }
}

/** Where a tick's clock stands: the time, and when it last read the due registrations. */
interface TickClock {
  now: number;
  lastRead: number;
}

const dueAt = (w: Watch) => Math.min(w.nextPollAt, w.eventAt);

/** The scheduled tick at `tick`, and the ticks woken within its slot when it ended early. */
function runTick(
  simulation: Simulation,
  pending: Pending,
  tick: number,
  events: boolean,
): TickClock {
  const {timing} = simulation;
  const deadline = tick + timing.budgetMs;
  const lease = tick + timing.firestoreMs;
  const clock: TickClock = {now: lease, lastRead: lease};
  // What this tick polled and left pending: it wakes when the first of them falls due (wake-times.ts).
  const wakeTimes = new WakeTimes(timing.wakeSlotMs);
  for (;;) {
    const idle = sweepUntil(simulation, pending, clock, deadline, wakeTimes);
    // Ended early: the next registration made before the slot's end wakes a tick, which polls to that end.
    const woken = pending.next();
    if (!idle || !woken || woken.arrivalMs >= deadline) return clock;
    const wokenAt = woken.arrivalMs + timing.wakeDelayMs;
    // Until the woken tick, completion entries are the completions function's, as between scheduled ticks.
    if (events) completionTicks(simulation, pending, wokenAt, clock);
    clock.now = wokenAt;
  }
}

/**
 * Reads and polls the due registrations until `deadline`, or until nothing falls due before it (the tick is then
 * idle: it ends early).
 */
function sweepUntil(
  simulation: Simulation,
  pending: Pending,
  clock: TickClock,
  deadline: number,
  wakeTimes: WakeTimes,
): boolean {
  const {timing} = simulation;
  while (clock.now < deadline) {
    const dueBy = clock.now;
    clock.lastRead = dueBy;
    clock.now += timing.firestoreMs; // a page of due registrations
    pending.admit(dueBy);
    const due = pending.watches
      .filter(w => dueAt(w) <= dueBy)
      .sort((a, b) => dueAt(a) - dueAt(b));
    due.forEach((w, i) => {
      const queued = Math.floor(i / timing.concurrency) * timing.latencyMs;
      simulation.poll(w, clock.now + queued);
      if (!w.finished) wakeTimes.add(w.nextPollAt);
    });
    pending.prune();
    const recheckAt = clock.now + timing.recheckMs;
    // The sweep waits for its polls (their API calls, then their writes) before it reads again.
    if (due.length > 0)
      clock.now +=
        Math.ceil(due.length / timing.concurrency) * timing.latencyMs +
        timing.firestoreMs;
    const known = wakeTimes.next(clock.now) ?? Infinity;
    const wakeAt = Math.min(recheckAt, known);
    if (!(known < deadline)) {
      clock.now += timing.firestoreMs; // when the next registration falls due
      pending.admit(clock.now);
      const nextDue = Math.min(...pending.watches.map(w => w.nextPollAt));
      if (!(nextDue < deadline)) return true;
    }
    clock.now = Math.max(clock.now, Math.min(wakeAt, deadline));
  }
  return false;
}

/** Until `untilMs` (the next tick), completion entries are the completions function's: a tick of its own, at once. */
function completionTicks(
  simulation: Simulation,
  pending: Pending,
  untilMs: number,
  {now, lastRead}: TickClock,
): void {
  const {timing} = simulation;
  pending.admit(untilMs);
  const evented = pending.watches
    .filter(w => w.eventAt > lastRead && w.eventAt < untilMs)
    .sort((a, b) => a.eventAt - b.eventAt);
  for (const w of evented)
    simulation.poll(w, Math.max(w.eventAt, now) + 3 * timing.firestoreMs);
  pending.prune();
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
