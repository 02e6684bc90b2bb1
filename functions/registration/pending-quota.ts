/**
 * MAX_PENDING_PER_OWNER without a count query per registration.
 *
 * Counting an owner's pending registrations is an aggregation over all of them: on every `POST /operations` it
 * was the most expensive part of a registration (on the emulator it held the API to 150 registrations/s where
 * 800 went through without it), and on Firestore it is billed one read per 1,000 entries counted. So a count is
 * kept per owner for {@link FRESH_MS}, with this instance's own registrations added as they start, and trusted
 * only while it leaves a tenth of the bound free: an owner far below the bound registers without a count, one
 * near it is counted afresh every time, and a refusal always comes from a fresh count, never a kept one.
 *
 * The bound stays a bound, not a ledger, as before: concurrent registrations may overshoot it by a few, and now
 * also by what the owner registered through other instances in the last {@link FRESH_MS}, if that is over a
 * tenth of the bound.
 */
import {LRUCache} from 'lru-cache';

/** How long a count is used before it is taken again. */
export const FRESH_MS = 10_000;
/** Owners whose counts are kept, least recently used dropped first. */
const MAX_OWNERS = 10_000;

/** Whether owners may register more, against MAX_PENDING_PER_OWNER. */
export class PendingQuota {
  /** Pending registrations per owner: the last count, plus those this instance started since. */
  private readonly known: LRUCache<string, {pending: number}>;
  /** Counts below this are trusted while fresh. */
  private readonly trustedBelow: number;

  /**
   * @param count counts an owner's pending registrations in the store.
   * @param max MAX_PENDING_PER_OWNER.
   */
  constructor(
    count: (owner: string) => Promise<number>,
    private readonly max: number,
    freshMs = FRESH_MS,
  ) {
    // Concurrent counts of one owner are one query.
    this.known = new LRUCache({
      max: MAX_OWNERS,
      ttl: freshMs,
      fetchMethod: async owner => ({pending: await count(owner)}),
    });
    this.trustedBelow = max - Math.ceil(max / 10);
  }

  /** Whether `owner` may start one more watch. */
  async allows(owner: string): Promise<boolean> {
    const kept = this.known.get(owner);
    if (kept && kept.pending < this.trustedBelow) return true;
    const counted = await this.known.fetch(owner, {
      forceRefresh: kept !== undefined,
    });
    return counted!.pending < this.max;
  }

  /** Counts a watch this instance started for `owner`. */
  started(owner: string): void {
    const kept = this.known.get(owner);
    if (kept) kept.pending++;
  }
}
