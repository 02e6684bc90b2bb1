/**
 * One tick of the poller: store → client → policy → publisher → store, for up to the budget.
 *
 * Within a tick each registration is polled when it falls due, not once per tick, so an operation that finishes
 * between Scheduler calls is noticed within seconds. Reads are pages of due registrations; each poll costs one
 * read and one write. A notification is published before its registration leaves `pending`, so a crash at any
 * point can repeat a message but never lose one.
 */
import {randomUUID} from 'node:crypto';
import type {QueryDocumentSnapshot, Timestamp} from '@google-cloud/firestore';
import pLimit from 'p-limit';
import {FAILED_PRECONDITION, type DueRegistrations} from './due-registrations';
import type {PollLease} from './lease';
import type {Logger} from '../log';
import type {Outcome, PollError, Registration} from '../model';
import {buildNotification} from '../notify/notification';
import type {OperationsClient} from '../google/operations-client';
import {afterPublishFailure, type PollResult, type Transition} from './policy';
import {forecast, type Forecast} from '../forecast/forecast';
import {observedDuration} from '../forecast/durations';
import {operationKind} from '../forecast/kind';
import {lroSettingsFor} from '../google/presets';
import type {KindDurations} from './kind-durations';
import type {NotificationSink} from '../notify/publisher';
import {fromDocument} from '../registration/store';

/** What a tick did: the poll function's answer. */
export interface TickCounts {
  polled: number;
  succeeded: number;
  failed: number;
  expired: number;
  notFound: number;
  pollErrors: number;
  retried: number;
  published: number;
  durationMs: number;
  /** True when another tick held the lease (and was not about to hand it over) and this one did nothing. */
  leaseHeld?: boolean;
}

/** Registrations read per query: enough to keep every poll slot busy between two queries. */
const PAGE_SIZE = 300;
/**
 * Share of the lease kept as a safety margin: work stops when less than this is left. Renewals come every third
 * of the lease, so only renewals late by more than ~40 % of the lease stop a tick.
 */
const LEASE_FENCE_SHARE = 0.25;
/** While nothing is due, how often to look for new registrations (which are due at once). */
const IDLE_RECHECK_MS = 1000;

/**
 * `work`, or a rejection once `ms` pass without it settling. The Firestore client retries an unreachable backend
 * silently for as long as it is away (one query waited out a whole 30 s outage), so every Firestore call of a tick
 * gets the lease's length: past that the tick could not trust its lease anyway, and must fail, not stall. The call
 * itself goes on; whatever it does late is guarded by the lease and the write preconditions.
 */
function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer from Firestore in ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

const OUTCOME_COUNTER: Record<
  Outcome,
  'succeeded' | 'failed' | 'expired' | 'notFound' | 'pollErrors'
> = {
  succeeded: 'succeeded',
  failed: 'failed',
  expired: 'expired',
  not_found: 'notFound',
  poll_error: 'pollErrors',
};

/** What a tick works with. */
export interface PollerDependencies {
  due: DueRegistrations;
  /** Makes the lease for one tick. */
  lease: (holder: string) => PollLease;
  client: OperationsClient;
  sink: NotificationSink;
  log: Logger;
  /** Learned durations per kind; without it, forecasts use progress and the owners' settings only. */
  kinds?: KindDurations;
  budgetMs: number;
  concurrency: number;
  leaseMs: number;
  /**
   * How long a tick waits for a holder at the end of its budget to hand the lease over (0: stand down at once).
   * Long enough for a holder's usual end: its last polls, the flush and the release.
   */
  handOverMs?: number;
  /** While nothing is due, how often to look again; 1 s unless set (the benchmark runs ticks in compressed time). */
  idleRecheckMs?: number;
  now?: () => number;
  random?: () => number;
}

/** Runs ticks. One instance serves every tick of a process, so its HTTP connections and tokens are reused. */
export class Poller {
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly deps: PollerDependencies) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  /**
   * Works for up to the budget, or until nothing is due within it.
   * @throws when Firestore cannot be reached, so the caller answers 5xx and Cloud Scheduler retries.
   */
  async tick(): Promise<TickCounts> {
    const started = this.now();
    const counts: TickCounts = {
      polled: 0,
      succeeded: 0,
      failed: 0,
      expired: 0,
      notFound: 0,
      pollErrors: 0,
      retried: 0,
      published: 0,
      durationMs: 0,
    };
    const lease = this.deps.lease(randomUUID());
    const leaseMs = this.deps.leaseMs;
    const deadline = started + this.deps.budgetMs;
    // The wait for a hand-over counts in the budget, so a tick's polling ends on its own schedule, not drifting.
    const claimed = await within(
      lease.acquireOnHandOver(deadline, this.deps.handOverMs ?? 0),
      leaseMs + (this.deps.handOverMs ?? 0),
      'claiming the lease',
    );
    if (!claimed) {
      return {...counts, leaseHeld: true, durationMs: this.now() - started};
    }
    const run = new TickRun(
      this.deps,
      lease,
      counts,
      deadline,
      this.now,
      this.random,
    );
    let renewing: Promise<unknown> = Promise.resolve();
    const renewal = setInterval(() => {
      renewing = within(lease.renew(), leaseMs, 'renewing the lease').then(
        held => held || run.stop('lease taken by another tick'),
        (error: Error) => run.stop(`lease renewal failed: ${error.message}`),
      );
    }, this.deps.leaseMs / 3);
    try {
      await run.execute();
    } finally {
      clearInterval(renewal);
      // A renewal still under way would change the lease under the release's precondition, and a whole new
      // lease would be left for the next tick to wait out.
      await renewing;
      await within(lease.release(), leaseMs, 'releasing the lease').catch(
        () => {
          // It runs out by itself; releasing only spares the next tick the wait.
        },
      );
    }
    counts.durationMs = this.now() - started;
    return counts;
  }
}

/** The state of one tick. */
class TickRun {
  private readonly limit: pLimit.Limit;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Update times of this tick's writes, to skip a page read before the write landed. */
  private readonly written = new Map<string, Timestamp>();
  private stopReason: string | undefined;
  private fatal: Error | undefined;

  constructor(
    private readonly deps: PollerDependencies,
    private readonly lease: PollLease,
    private readonly counts: TickCounts,
    private readonly deadline: number,
    private readonly now: () => number,
    private readonly random: () => number,
  ) {
    this.limit = pLimit(deps.concurrency);
  }

  stop(reason: string): void {
    this.stopReason ??= reason;
  }

  /**
   * True, and the tick stops, once the lease could run out soon: a tick whose renewals are late must not start a
   * publish that could still be under way when the next holder reads the same registrations.
   */
  private fenced(): boolean {
    const margin = this.deps.leaseMs * LEASE_FENCE_SHARE;
    if (this.now() < this.lease.validUntil - margin) return false;
    this.stop('the lease is about to run out: renewals are late');
    return true;
  }

  async execute(): Promise<void> {
    let cursor: QueryDocumentSnapshot | undefined;
    while (this.stopReason === undefined && this.now() < this.deadline) {
      if (this.inFlight.size >= this.deps.concurrency + PAGE_SIZE) {
        await Promise.race(this.inFlight.values());
        continue;
      }
      const read = await this.store(
        this.deps.due.page(this.now(), PAGE_SIZE, cursor),
        'reading due registrations',
      );
      if (!read) break;
      const {docs: page, readTime} = read;
      this.forgetWritesBefore(readTime);
      for (const snapshot of page) this.start(snapshot);
      if (page.length === PAGE_SIZE) {
        cursor = page[page.length - 1];
        continue;
      }
      cursor = undefined;
      if (this.inFlight.size === 0) {
        const next = await this.store(
          this.deps.due.nextDueAt().then(at => ({at})),
          'reading the next due time',
        );
        if (!next || next.at === undefined || next.at >= this.deadline) break;
      }
      const recheckMs = this.deps.idleRecheckMs ?? IDLE_RECHECK_MS;
      await this.sleep(Math.min(recheckMs, this.deadline - this.now()));
    }
    // Polls under way finish (each write has its deadline) before the tick answers, even a failing one.
    await Promise.all(this.inFlight.values());
    await this.store(this.deps.due.flush(), 'writing poll results');
    if (this.stopReason)
      this.deps.log.warn(`tick stopped early: ${this.stopReason}`);
    if (this.fatal) throw this.fatal;
  }

  /** A Firestore call within its deadline; undefined, and the tick fails, when it fails or comes too late. */
  private async store<T>(
    work: Promise<T>,
    what: string,
  ): Promise<T | undefined> {
    try {
      return await within(work, this.deps.leaseMs, what);
    } catch (error) {
      this.fatal ??= error as Error;
      this.stop(`Firestore failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Writes older than a page's read time show in that page and every later one: no need to remember them. */
  private forgetWritesBefore(readTime: Timestamp): void {
    // Timestamps compare by their valueOf() strings, to the nanosecond: two writes a millisecond apart are common.
    for (const [id, writeTime] of this.written) {
      if (writeTime.valueOf() <= readTime.valueOf()) this.written.delete(id);
    }
  }

  private start(snapshot: QueryDocumentSnapshot): void {
    const id = snapshot.id;
    if (this.inFlight.has(id)) return;
    // A page read before this tick's own write landed shows the registration as it was: skip it.
    const written = this.written.get(id);
    if (written && written.valueOf() > snapshot.updateTime.valueOf()) return;
    const work = this.limit(() => this.pollOne(snapshot)).finally(() =>
      this.inFlight.delete(id),
    );
    this.inFlight.set(id, work);
  }

  /** Whether a poll may start now: the tick goes on, within its budget and its lease. */
  private mayStart(): boolean {
    // A poll queued within the budget but reached after it is left for the next tick: with Pub/Sub slow or away,
    // each started poll can take a publish timeout, and a tick that started them all ran for minutes.
    return (
      this.stopReason === undefined &&
      this.now() < this.deadline &&
      !this.fenced()
    );
  }

  private async pollOne(snapshot: QueryDocumentSnapshot): Promise<void> {
    // The publish and the write stay inside the POLL_CONCURRENCY slot: released after the request, they pile up
    // unthrottled, and a crash then catches more of them between Pub/Sub's ack and the write (duplicates in the
    // crash suite went from 0.8 % to 2.5 %, over its 1 % bound).
    if (!this.mayStart()) return;
    const registration = fromDocument(snapshot);
    const result = await this.deps.client.get(registration);
    const now = this.now();
    this.counts.polled++;
    if (result.kind === 'transient') this.counts.retried++;

    const forecast = await this.forecast(registration, result, now);
    let transition = forecast.transition;
    if (transition.outcome) {
      // Left pending and due, the registration is the next lease holder's to finish.
      if (this.fenced()) return;
      transition = await this.publish(registration, transition, now);
    }
    const saved = await this.save(
      snapshot,
      registration,
      {...forecast, transition},
      now,
    );
    if (saved && transition.outcome === 'succeeded')
      await this.learn(registration, transition, now);
  }

  /** The policy's decision with the next poll placed by what is known of the operation and its kind. */
  private async forecast(
    registration: Registration,
    result: PollResult,
    now: number,
  ): Promise<Forecast> {
    const kind =
      result.kind === 'operation'
        ? operationKind(registration.operation.service, result.operation)
        : undefined;
    const knowledge = kind && {
      durations: await this.deps.kinds?.model(kind),
      prior: lroSettingsFor(registration.operation.service, kind.verb),
    };
    return forecast(registration, result, now, this.random, knowledge);
  }

  /** Adds a succeeded operation's duration to its kind: one write, after the registration's final one. */
  private async learn(
    registration: Registration,
    transition: Transition,
    now: number,
  ): Promise<void> {
    const operation = transition.lastOperation;
    const kind = operationKind(registration.operation.service, operation);
    const duration =
      operation && observedDuration(registration, operation, now);
    if (!this.deps.kinds || !kind || duration === undefined) return;
    await within(
      this.deps.kinds.learn(kind, duration),
      this.deps.leaseMs,
      'learning a duration',
    ).catch((error: Error) =>
      // Learning is an optimisation: the watch has ended and been notified either way.
      this.deps.log.warn(
        `learning the duration of ${kind.key} failed: ${error.message}`,
      ),
    );
  }

  private async publish(
    registration: Registration,
    transition: Transition,
    now: number,
  ): Promise<Transition> {
    const outcome = transition.outcome!;
    const ended = outcome === 'succeeded' || outcome === 'failed';
    const pollError: PollError | undefined =
      outcome === 'expired'
        ? {
            kind: 'deadline',
            message: `not done by the deadline, ${new Date(registration.deadline).toISOString()}`,
          }
        : ended
          ? undefined
          : transition.lastError;
    const notification = buildNotification(registration, {
      outcome,
      finishedAt: now,
      attempts: transition.attempts,
      operation: transition.lastOperation,
      pollError,
    });
    try {
      await this.deps.sink.publish(registration.topic, notification);
      this.counts.published++;
      this.counts[OUTCOME_COUNTER[outcome]]++;
      return transition;
    } catch (error) {
      const message = `publishing to ${registration.topic} failed: ${(error as Error).message}`;
      this.deps.log.warn(message, {registrationId: registration.id});
      return afterPublishFailure(
        registration,
        transition,
        {kind: 'publish', message},
        now,
        this.random,
      );
    }
  }

  private async save(
    snapshot: QueryDocumentSnapshot,
    registration: Registration,
    {transition, progressPercent, estimatedDoneAt}: Forecast,
    now: number,
  ): Promise<boolean> {
    const state = transition.outcome ?? 'pending';
    const pending = state === 'pending';
    try {
      const result = await within(
        this.deps.due.save(
          snapshot.ref,
          {
            state,
            attempts: transition.attempts,
            errorStreak: transition.errorStreak,
            nextPollAt: transition.nextPollAt,
            lastPolledAt: now,
            updatedAt: now,
            lastError: transition.lastError,
            ...(transition.lastOperation && {
              lastOperation: transition.lastOperation,
            }),
            // Cleared when the operation stops telling, or the watch ends.
            progressPercent: pending ? progressPercent : undefined,
            estimatedDoneAt: pending ? estimatedDoneAt : undefined,
            ...(!pending && {finishedAt: now}),
          },
          snapshot.updateTime as Timestamp,
        ),
        this.deps.leaseMs,
        'writing a poll result',
      );
      this.written.set(registration.id, result.writeTime);
      return true;
    } catch (error) {
      // A failed precondition means someone else changed the registration (a cancel, a newer tick): theirs stands.
      // Anything else means Firestore is unreachable: stop and let Cloud Scheduler retry the tick.
      if ((error as {code?: number}).code !== FAILED_PRECONDITION) {
        this.fatal ??= error as Error;
        this.stop(`Firestore write failed: ${(error as Error).message}`);
      }
      return false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise(resolve => setTimeout(resolve, Math.max(0, ms)));
  }
}
