/**
 * One tick's work under its lease: pages of due registrations, each polled, forecast, published and written,
 * until the budget is spent, nothing is due within it, or the lease could run out.
 */
import {setTimeout as delay} from 'node:timers/promises';
import type {
  DocumentSnapshot,
  QueryDocumentSnapshot,
  Timestamp,
} from '@google-cloud/firestore';
import pLimit from 'p-limit';
import {UnstorableError, type PollUpdate} from '../core/document';
import {bucketOf, type BucketRange} from '../core/shards';
import {within} from '../platform/deadline';
import {
  FAILED_PRECONDITION,
  INVALID_ARGUMENT,
  NOT_FOUND,
  firestoreCode,
} from '../platform/firestore';
import type {LogThrottle} from '../platform/log';
import type {PollLease} from './lease';
import type {LeaseTimings} from './lease-timings';
import {pollRegistration} from './registration-poll';
import {
  anyWorkBefore,
  type PollerDependencies,
  type TickContext,
  type TickCounts,
  type WriteResult,
} from './tick-context';
import {listWatch} from './watch-listing';
import {WakeTimes} from './wake-times';

/**
 * Registrations read per query: enough to keep every poll slot busy between two queries. The reads are one after
 * another, so a page query's fixed cost bounds a tick's polls/s: 300 per page held one instance near 930/s on the
 * emulator, 600 near 1,180/s at the same CPU per poll.
 */
export const PAGE_SIZE = 600;
/** How often a tick reads its shard's due watches at most. */
const WATCHES_RECHECK_MS = 2000;
/** While nothing is due, how often to look for new registrations (which are due at once). */
const IDLE_RECHECK_MS = 1000;

/** The state of one tick. */
export class TickRun implements TickContext {
  private readonly limit: pLimit.Limit;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Update times of this tick's writes, to skip a page read before the write landed. */
  private readonly written = new Map<string, Timestamp>();
  /** Registrations none of whose writes could be stored: left to the next tick, not polled again in this one. */
  private readonly unwritable = new Set<string>();
  /** When the registrations this tick left pending fall due: the tick wakes for them, not a second later. */
  private readonly wakeTimes = new WakeTimes();
  private stopReason: string | undefined;
  /** When the tick last read its shard's due watches. */
  private watchesLookedAt = -Infinity;
  private fatal: Error | undefined;

  constructor(
    readonly deps: PollerDependencies,
    private readonly range: BucketRange,
    readonly timings: LeaseTimings,
    private readonly lease: PollLease,
    readonly counts: TickCounts,
    private readonly deadline: number,
    readonly now: () => number,
    readonly random: () => number,
    readonly throttle: LogThrottle,
  ) {
    this.limit = pLimit(deps.concurrency);
  }

  stop(reason: string): void {
    this.stopReason ??= reason;
  }

  stopped(): boolean {
    return this.stopReason !== undefined;
  }

  /**
   * True, and the tick stops, once the lease could run out before a poll's last steps (its publish, then its
   * write) are done: a tick whose renewals are late must not start a publish that could still be under way when
   * the next holder reads the same registrations.
   */
  fenced(): boolean {
    const margin = this.timings.fenceMarginMs;
    if (this.now() < this.lease.validUntil - margin) return false;
    this.stop('the lease is about to run out: renewals are late');
    return true;
  }

  /** @returns whether the tick ended for want of due work, before its deadline. */
  async execute(): Promise<boolean> {
    let idle = false;
    let cursor: QueryDocumentSnapshot | undefined;
    while (this.stopReason === undefined && this.now() < this.deadline) {
      if (this.inFlight.size >= this.deps.concurrency + PAGE_SIZE) {
        await Promise.race(this.inFlight.values());
        continue;
      }
      const read = await this.store(
        this.deps.due.page(this.range, this.now(), PAGE_SIZE, cursor),
        'reading due registrations',
      );
      if (!read) break;
      const {docs: page, readTime} = read;
      this.forgetWritesBefore(readTime);
      for (const snapshot of page) this.start(snapshot);
      // After the page's polls started, so the registrations due now never wait for it.
      if (cursor === undefined) await this.listDueWatches();
      if (this.stopReason !== undefined) break;
      if (page.length === PAGE_SIZE) {
        cursor = page[page.length - 1];
        continue;
      }
      cursor = undefined;
      const recheckAt =
        this.now() + (this.deps.idleRecheckMs ?? IDLE_RECHECK_MS);
      // The next sweep starts over, and would read again every registration still in flight (each is due until
      // its write lands): with a slow API that is a read per in-flight poll per sweep. Let them finish first.
      await Promise.all(this.inFlight.values());
      const known = this.wakeTimes.next(this.now()) ?? Infinity;
      // Nothing of its own due within the budget: a tick with nothing due at all ends, and spares the instance.
      if (known >= this.deadline) {
        const more = await this.store(
          anyWorkBefore(this.deps, this.range, this.deadline),
          'looking for registrations due within the budget',
        );
        idle = more === false;
        if (!more) break;
      }
      await this.sleep(Math.min(recheckAt, known, this.deadline) - this.now());
    }
    // Polls under way finish (each write has its deadline) before the tick answers, even a failing one.
    await Promise.all(this.inFlight.values());
    await this.store(this.deps.due.flush(), 'writing poll results');
    if (this.stopReason)
      this.deps.log.warn(`tick stopped early: ${this.stopReason}`);
    if (this.fatal) throw this.fatal;
    return idle;
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

  /**
   * Starts the list of each watch of the shard due to list, at most every WATCHES_RECHECK_MS; they take poll slots
   * like polls, and a sweep's end waits for them as for polls, so the registrations a list made are read by the
   * next sweep.
   */
  private async listDueWatches(): Promise<void> {
    const watches = this.deps.watches;
    // Lists are due every LIST_INTERVAL_SECONDS: a look every few seconds, not every sweep, finds them in time.
    if (!watches || this.now() < this.watchesLookedAt + WATCHES_RECHECK_MS)
      return;
    this.watchesLookedAt = this.now();
    const due = await this.store(
      watches.store.due(this.range, this.now(), PAGE_SIZE),
      'reading due watches',
    );
    for (const snapshot of due ?? [])
      this.startWork(`watch ${snapshot.id}`, () => listWatch(this, snapshot));
  }

  private start(snapshot: QueryDocumentSnapshot): void {
    if (this.stale(snapshot) || this.unwritable.has(snapshot.id)) return;
    this.startWork(snapshot.id, () => pollRegistration(this, snapshot));
  }

  /** A page read before this tick's own write landed shows the registration as it was. */
  private stale(snapshot: DocumentSnapshot): boolean {
    const written = this.written.get(snapshot.id);
    return (
      written !== undefined &&
      written.valueOf() > (snapshot.updateTime as Timestamp).valueOf()
    );
  }

  exclusive(
    snapshot: DocumentSnapshot,
    work: () => Promise<void>,
  ): Promise<void> {
    const id = snapshot.id;
    // Another shard's registration is that shard's tick's to poll, under that shard's lease.
    const bucket = bucketOf(id);
    const ours = bucket >= this.range.from && bucket < this.range.to;
    if (!ours || this.inFlight.has(id) || this.stale(snapshot))
      return Promise.resolve();
    // Outside the poll slots: the list that runs it holds one already.
    const running = work().finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, running);
    return running;
  }

  /** Runs `work` in a poll slot, unless work under the same key is under way. */
  private startWork(id: string, work: () => Promise<void>): void {
    if (this.inFlight.has(id)) return;
    const running = this.limit(work)
      .catch((error: Error) => {
        // A bug, not bad data: the registration stays as it was for the next tick, the rest of the tick goes on.
        this.deps.log.error('poll failed', {
          registrationId: id,
          error: error.message,
        });
      })
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, running);
  }

  /** Whether a poll may start now: the tick goes on, within its budget and its lease. */
  mayStart(): boolean {
    // A poll queued within the budget but reached after it is left for the next tick: with Pub/Sub slow or away,
    // each started poll can take a publish timeout, and a tick that started them all ran for minutes.
    return (
      this.stopReason === undefined &&
      this.now() < this.deadline &&
      !this.fenced()
    );
  }

  /**
   * Writes a poll's result within the write deadline, unless the document changed since it was read. Decided by
   * cause: an update that cannot be stored is refused to the registration that made it, and only Firestore
   * failing stops the tick.
   */
  async write(
    snapshot: DocumentSnapshot,
    update: PollUpdate,
  ): Promise<WriteResult> {
    try {
      const result = await within(
        this.deps.due.save(
          snapshot.ref,
          update,
          snapshot.updateTime as Timestamp,
        ),
        this.timings.writeDeadlineMs,
        'writing a poll result',
      );
      this.written.set(snapshot.id, result.writeTime);
      this.unwritable.delete(snapshot.id);
      const {state, nextPollAt} = update;
      // Only within the budget: at most budget / slot entries, however many registrations the tick polls.
      if (
        state === 'pending' &&
        nextPollAt !== undefined &&
        nextPollAt < this.deadline
      )
        this.wakeTimes.add(nextPollAt);
      return {written: true};
    } catch (error) {
      const code = firestoreCode(error);
      // Someone else changed the registration (a cancel, a newer tick), or it is gone: theirs stands.
      if (code === FAILED_PRECONDITION) return {written: false, conflict: true};
      if (code === NOT_FOUND) return {written: false};
      // The update itself: a value the codec refuses, or a document Firestore will not store.
      if (error instanceof UnstorableError || code === INVALID_ARGUMENT) {
        this.unwritable.add(snapshot.id);
        return {written: false, refused: (error as Error).message};
      }
      // Anything else means Firestore is unreachable: stop and let Cloud Scheduler retry the tick.
      this.fatal ??= error as Error;
      this.stop(`Firestore write failed: ${(error as Error).message}`);
      return {written: false};
    }
  }

  private sleep(ms: number): Promise<unknown> {
    return (this.deps.sleep ?? delay)(Math.max(0, ms));
  }
}
