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
import {BUCKETS, type BucketRange} from '../core/shards';
import {within} from '../platform/deadline';
import {LogThrottle} from '../platform/log';
import {HiddenSweep} from './hidden-sweep';
import type {ClaimTerms, PollLease} from './lease';
import {leaseTimings} from './lease-timings';
import {Renewals} from './renewals';
import {
  anyWorkBefore,
  newTickCounts,
  type PollerDependencies,
  type TickCounts,
  type TickTrigger,
} from './tick-context';
import {TickRun} from './tick-run';

/** How often a failure repeated on every retry (a publish to the same topic) is logged. */
const REPEATED_LOG_INTERVAL_MS = 60_000;

/** Runs ticks. One instance serves every tick of a process, so its HTTP connections and tokens are reused. */
export class Poller {
  private readonly now: () => number;
  private readonly random: () => number;
  /** Across ticks, so a topic refused on every retry logs once a minute. */
  private readonly throttle: LogThrottle;
  /** Across ticks: where the sweep for hidden registrations goes on. */
  private readonly sweep: HiddenSweep;

  constructor(private readonly deps: PollerDependencies) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.throttle = new LogThrottle(REPEATED_LOG_INTERVAL_MS, this.now);
    this.sweep = new HiddenSweep(deps.due, this.now, this.random);
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
    const counts = newTickCounts();
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
    if (deadline === undefined || !(await this.admitted(range, lease))) {
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
      const idle = await run.execute();
      await this.sweep.step(run, range);
      return idle;
    } finally {
      // What the tick learned is written before it answers: past the answer, Cloud Functions may take the CPU away.
      await Promise.all([
        this.flush(this.deps.kinds, 'learned durations'),
        this.flush(this.deps.stats, 'notification figures'),
      ]);
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
          anyWorkBefore(this.deps, range, deadline),
          leaseMs,
          'looking for registrations due within the budget',
        )) &&
        (await within(
          lease.acquire(deadline),
          leaseMs,
          'claiming the lease',
        )) &&
        (await this.admitted(range, lease))
      );
    } catch (error) {
      this.deps.log.warn((error as Error).message);
      return false;
    }
  }

  /**
   * Whether the shard layout lets this tick, which holds the lease of `range`, work it (shard-layout.ts); if not,
   * the lease is given back at once.
   * @throws when Firestore cannot be reached, as a claim does.
   */
  private async admitted(
    range: BucketRange,
    lease: PollLease,
  ): Promise<boolean> {
    const layout = this.deps.layout;
    if (!layout) return true;
    const leaseMs = this.deps.leaseMs;
    let admitted = false;
    try {
      admitted = await within(
        layout.admits(range, this.now()),
        leaseMs,
        'reading the shard layout',
      );
      return admitted;
    } finally {
      if (!admitted)
        await within(lease.release(), leaseMs, 'releasing the lease').catch(
          () => {
            // It runs out by itself.
          },
        );
    }
  }

  /**
   * Writes what the tick gathered for `store` (learned durations, the notification figures of GET /stats), within
   * the lease's length: a failure costs only that history, not the tick.
   */
  private async flush(
    store: {flush(): Promise<void>} | undefined,
    what: string,
  ): Promise<void> {
    if (!store) return;
    await within(store.flush(), this.deps.leaseMs, `writing ${what}`).catch(
      (error: Error) => this.deps.log.warn(error.message),
    );
  }
}
