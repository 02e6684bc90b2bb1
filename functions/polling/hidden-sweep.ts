/**
 * The sweep for registrations no poll would ever meet: pending, but a field the poller's query filters on has the
 * wrong type (a `bucket` that is a string, a `nextPollAt` that is a number), so the due query never returns them,
 * while the pending quota's count (`owner`, `state`) still counts them against their owner. Each one found is
 * reported and ended as a corrupt document (corrupt-end.ts), which stops it counting.
 *
 * The tick of the shard that owns bucket 0 reads one page of pending registrations, only the fields those queries
 * use, at most every {@link SWEEP_INTERVAL_MS}, going on from where its last page ended and over again from the
 * start; an instance starts at a random place, so instances that come and go still cover the whole collection.
 * Cost: at most {@link SWEEP_PAGE} reads each interval, however large the collection, and again at the next
 * tick for a page the tick's end cut short (the sweep moves on only past a page it has worked).
 */
import {Timestamp, type QueryDocumentSnapshot} from '@google-cloud/firestore';
import {BUCKETS, type BucketRange} from '../core/shards';
import {within} from '../platform/deadline';
import {endCorrupt} from './corrupt-end';
import type {DueRegistrations} from './due-registrations';
import type {TickContext} from './tick-context';

/** How often a poll instance reads a page of the sweep. */
export const SWEEP_INTERVAL_MS = 5 * 60_000;
/** Registrations read per page. */
export const SWEEP_PAGE = 500;
/** A due time this far past the deadline is none a poll reaches: past the longest publish grace (30 days). */
const FARTHEST_DUE_MS = 31 * 86_400_000;

/** A stored value's kind, for a report: `a string`, `NaN`, `a map`, ... */
function kindOf(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number')
    return Number.isNaN(value) ? 'NaN' : `the number ${value}`;
  if (value instanceof Timestamp) return 'a timestamp';
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}

/** Why the poller's query cannot see this pending registration, or undefined when it can. */
export function hiddenProblem(
  snapshot: QueryDocumentSnapshot,
): string | undefined {
  const unseen = 'so no tick polls it';
  const bucket: unknown = snapshot.get('bucket');
  if (!(
    Number.isInteger(bucket) &&
    (bucket as number) >= 0 &&
    (bucket as number) < BUCKETS
  ))
    return `bucket is ${kindOf(bucket)}, not a shard bucket (0 to ${BUCKETS - 1}), ${unseen}`;
  const nextPollAt: unknown = snapshot.get('nextPollAt');
  if (!(nextPollAt instanceof Timestamp))
    return `nextPollAt is ${kindOf(nextPollAt)}, not a timestamp, ${unseen}`;
  const owner: unknown = snapshot.get('owner');
  if (typeof owner !== 'string' || owner === '')
    return `owner is ${kindOf(owner)}, not an owner`;
  const key: unknown = snapshot.get('completionKey');
  if (key !== undefined && typeof key !== 'string')
    return `completionKey is ${kindOf(key)}, not a key completion events can find`;
  const deadline: unknown = snapshot.get('deadline');
  if (
    deadline instanceof Timestamp &&
    nextPollAt.toMillis() > deadline.toMillis() + FARTHEST_DUE_MS
  )
    return `nextPollAt is ${nextPollAt.toDate().toISOString()}, long past the deadline, ${unseen}`;
  return undefined;
}

/** One poll instance's sweep: where its next page starts, and when. */
export class HiddenSweep {
  private after: string | undefined;
  private nextAt = 0;

  constructor(
    private readonly due: DueRegistrations,
    private readonly now: () => number,
    random: () => number,
  ) {
    // Ids are hex digests: a random hex start is a random place in the collection.
    this.after = Math.floor(random() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, '0');
  }

  /**
   * Reads a page and ends the hidden registrations on it, when it is time and this tick works bucket 0. A page the
   * tick's end cuts short is read again by the next tick: the sweep moves on only past a page it has worked.
   */
  async step(tick: TickContext, range: BucketRange): Promise<void> {
    if (range.from !== 0 || this.now() < this.nextAt) return;
    if (tick.stopped() || tick.fenced()) return;
    let read: {page: QueryDocumentSnapshot[]; after: string | undefined};
    try {
      read = await this.read(tick);
    } catch (error) {
      // The sweep only tidies: the tick's own calls say whether Firestore is away.
      tick.deps.log.warn((error as Error).message);
      this.nextAt = this.now() + SWEEP_INTERVAL_MS;
      return;
    }
    for (const snapshot of read.page) {
      const problem = hiddenProblem(snapshot);
      if (problem === undefined) continue;
      if (tick.stopped() || tick.fenced()) return;
      await endCorrupt(tick, snapshot, `hidden from the poller: ${problem}`);
    }
    this.after = read.after;
    this.nextAt = this.now() + SWEEP_INTERVAL_MS;
  }

  /**
   * The next page: from where the last ended, and when that reaches the end of the collection, on from its start
   * (so a collection smaller than a page is swept whole every time).
   */
  private async read(
    tick: TickContext,
  ): Promise<{page: QueryDocumentSnapshot[]; after: string | undefined}> {
    const read = (after: string | undefined, limit: number) =>
      within(
        this.due.pendingPage(after, limit),
        tick.deps.leaseMs,
        'sweeping for hidden registrations',
      );
    const page = await read(this.after, SWEEP_PAGE);
    if (page.length === SWEEP_PAGE)
      return {page, after: page[page.length - 1].id};
    const wrapped = await read(undefined, SWEEP_PAGE - page.length);
    const seen = new Set(page.map(snapshot => snapshot.id));
    const fresh = wrapped.filter(snapshot => !seen.has(snapshot.id));
    return {
      page: [...page, ...fresh],
      after: wrapped.length > 0 ? wrapped[wrapped.length - 1].id : undefined,
    };
  }
}
