/**
 * The poller: runs ticks, each store → client → policy → publisher → store, for up to the budget.
 *
 * Within a tick each registration is polled when it falls due, not once per tick, so an operation that finishes
 * between Scheduler calls is noticed within seconds. Reads are pages of due registrations; each poll costs one
 * read and one write (plus, per tick, one write per kind of operation whose durations it learned). A notification
 * is published before its registration leaves `pending`, so a crash at any point can repeat a message but never
 * lose one. This module claims the lease and keeps it (renewals.ts); one tick's work is tick-run.ts.
 */
import {randomUUID} from 'node:crypto';
import type {DueRegistrations} from './due-registrations';
import {within} from './deadline';
import type {ClaimTerms, PollLease} from './lease';
import {leaseTimings} from './lease-timings';
import {Renewals} from './renewals';
import {BUCKETS, type BucketRange} from './shards';
import {TickRun} from './tick-run';
import {LogThrottle, type Logger} from '../log';
import type {OperationsClient} from '../google/operations-client';
import type {KindDurations} from './kind-durations';
import type {NotificationSink} from '../notify/publisher';
import type {Allowlists} from '../registration/allowlists';

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
  /** Watches ended `undeliverable`: Pub/Sub refused their notification past the deadline and the grace. */
  undeliverable: number;
  /** Stored documents this version cannot read, ended `poll_error` (kind `corrupt`) or skipped. */
  corrupt: number;
  durationMs: number;
  /** True when another tick held the lease (and was not about to hand it over) and this one did nothing. */
  leaseHeld?: boolean;
}

/**
 * Who started a tick, which sets how long it polls: Cloud Scheduler's tick for its budget, a slot that the next
 * scheduled tick takes over from; a registration's wake (tick-wake.ts) to the end of the slot it falls in, or for a
 * whole budget, as the slot, when no scheduled tick's slot is running; a completion event for its own budget.
 */
export type TickTrigger = 'scheduler' | 'registration' | 'completion';

/** How often a failure repeated on every retry (a publish to the same topic) is logged. */
const REPEATED_LOG_INTERVAL_MS = 60_000;

/** What a tick works with. */
export interface PollerDependencies {
  due: DueRegistrations;
  /** Makes the lease of one tick on one shard's buckets. */
  lease: (holder: string, range: BucketRange) => PollLease;
  client: OperationsClient;
  /** Checked again before every poll: a registration the current lists refuse ends `poll_error` (`forbidden`). */
  allowlists: Allowlists;
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
  /** How long past its deadline a notification Pub/Sub refuses is retried before the watch ends `undeliverable`. */
  publishGraceMs: number;
  /** Full topic name that also gets an `undeliverable` watch's notification, with the publish error attached. */
  deadLetterTopic?: string;
  /** While nothing is due, how often to look again; 1 s unless set (the benchmark runs ticks in compressed time). */
  idleRecheckMs?: number;
  /** The clock, with `sleep`: the benchmark runs ticks on a compressed one. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Runs ticks. One instance serves every tick of a process, so its HTTP connections and tokens are reused. */
export class Poller {
  private readonly now: () => number;
  private readonly random: () => number;
  /** Across ticks, so a topic refused on every retry logs once a minute. */
  private readonly throttle: LogThrottle;

  constructor(private readonly deps: PollerDependencies) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.throttle = new LogThrottle(REPEATED_LOG_INTERVAL_MS, this.now);
  }

  /**
   * Works the registrations of the buckets in `range` (all of them unless given) for up to the budget, or until
   * nothing is due within it.
   * @throws when Firestore cannot be reached, so the caller answers 5xx and Cloud Scheduler retries.
   */
  async tick(
    range: BucketRange = {from: 0, to: BUCKETS},
    trigger: TickTrigger = 'scheduler',
  ): Promise<TickCounts> {
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
      undeliverable: 0,
      corrupt: 0,
      durationMs: 0,
    };
    const lease = this.deps.lease(randomUUID(), range);
    const leaseMs = this.deps.leaseMs;
    const budgetEnd = started + this.deps.budgetMs;
    const terms: ClaimTerms = slotEnd => {
      if (trigger !== 'registration')
        return {pollsUntil: budgetEnd, slot: trigger === 'scheduler'};
      return slotEnd !== undefined && slotEnd > this.now()
        ? {pollsUntil: Math.min(slotEnd, budgetEnd), slot: false}
        : {pollsUntil: budgetEnd, slot: true};
    };
    // The wait for a hand-over counts in the budget, so a tick's polling ends on its own schedule, not drifting.
    const deadline = await within(
      lease.acquireOnHandOver(
        terms,
        this.deps.handOverMs ?? 0,
        this.deps.sleep,
      ),
      leaseMs + (this.deps.handOverMs ?? 0),
      'claiming the lease',
    );
    if (deadline === undefined) {
      return {...counts, leaseHeld: true, durationMs: this.now() - started};
    }
    let idle = await this.workHeld(range, lease, counts, deadline);
    // A tick that ended for want of due work looks once more after its release: a registration stored just before
    // it, whose registrar saw the lease held and woke no tick (tick-wake.ts), is polled now, not at the next call.
    // Only before the deadline: past it, the look and the claim (two calls), then a run with nothing left to poll
    // (the learned durations, a renewal, the release) stay within the five calls that tickEndMs counts.
    while (
      idle &&
      this.now() < deadline &&
      (await this.resumes(range, lease, deadline))
    ) {
      idle = await this.workHeld(range, lease, counts, deadline);
    }
    counts.durationMs = this.now() - started;
    return counts;
  }

  /**
   * The work of a held lease, released at the end.
   * @returns whether it ended for want of due work, before its deadline.
   */
  private async workHeld(
    range: BucketRange,
    lease: PollLease,
    counts: TickCounts,
    deadline: number,
  ): Promise<boolean> {
    const leaseMs = this.deps.leaseMs;
    const timings = leaseTimings(leaseMs);
    const run = new TickRun(
      this.deps,
      range,
      timings,
      lease,
      counts,
      deadline,
      this.now,
      this.random,
      this.throttle,
    );
    const renewals = new Renewals(lease, timings.renewEveryMs, leaseMs, run);
    try {
      return await run.execute();
    } finally {
      // What the tick learned is written before it answers: past the answer, Cloud Functions may take the CPU away.
      await this.flushLearned();
      // A renewal still under way would change the lease under the release's precondition, and a whole new
      // lease would be left for the next tick to wait out.
      await renewals.stop();
      await within(lease.release(), leaseMs, 'releasing the lease').catch(
        () => {
          // It runs out by itself; releasing only spares the next tick the wait.
        },
      );
    }
  }

  /**
   * Whether anything falls due before `deadline` and this tick took the lease back to poll it. The tick's work is
   * done: a failure here is logged and leaves what is due to the next tick, rather than failing this one.
   */
  private async resumes(
    range: BucketRange,
    lease: PollLease,
    deadline: number,
  ): Promise<boolean> {
    const leaseMs = this.deps.leaseMs;
    try {
      return (
        (await within(
          this.deps.due.anyDueBefore(range, deadline),
          leaseMs,
          'looking for registrations due within the budget',
        )) &&
        (await within(lease.acquire(deadline), leaseMs, 'claiming the lease'))
      );
    } catch (error) {
      this.deps.log.warn((error as Error).message);
      return false;
    }
  }

  /** Writes the durations learned so far, within the lease's length; a failure costs history, not the tick. */
  private async flushLearned(): Promise<void> {
    if (!this.deps.kinds) return;
    await within(
      this.deps.kinds.flush(),
      this.deps.leaseMs,
      'writing learned durations',
    ).catch((error: Error) => this.deps.log.warn(error.message));
  }
}
