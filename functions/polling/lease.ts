/**
 * The poller's lease: one document per shard that says which tick may poll that shard's buckets, and until when.
 *
 * One lease per shard, rather than one per registration, keeps the cost of a poll at one read and one write:
 * overlapping ticks (Scheduler retries, two ticks at once) find the lease held and stand down, and a crashed
 * tick's lease simply runs out. The next tick in line is different: it finds a holder at the end of its budget,
 * and waits for it to hand over, so polling goes on from one tick to the next without a gap.
 *
 * No transactions: a tick that finds the lease held learns it from one plain read, and claims and renewals are
 * writes with preconditions (the document must not exist, or must be exactly as last seen). Transactions would
 * make the holder's renewals queue behind the losers' attempts, and a renewal that comes too late lets a second
 * tick in while the first is still publishing.
 *
 * A release marks the document free rather than deleting it, so it keeps two things for whoever comes next: when
 * the last scheduled tick's slot ends (`scheduledUntil`, where the next Cloud Scheduler call takes over), and an
 * update time that changes on every claim and release, which tells a registration whether the tick it woke has
 * started yet (tick-wake.ts).
 */
import {setTimeout as delay} from 'node:timers/promises';
import {
  Timestamp,
  type DocumentReference,
  type DocumentSnapshot,
  type Firestore,
} from '@google-cloud/firestore';
import {within} from '../platform/deadline';
import {
  ALREADY_EXISTS,
  FAILED_PRECONDITION,
  firestoreCode,
} from '../platform/firestore';

/** Whether a claim, renewal or release lost to another write: its precondition failed. */
export function lostRace(error: unknown): boolean {
  const code = firestoreCode(error);
  return code === ALREADY_EXISTS || code === FAILED_PRECONDITION;
}

/** How often a tick waiting for a hand-over, or for a dead holder's lease to run out, looks at it: one read each. */
const HAND_OVER_PAUSE_MS = 200;
/** Renewals a holder makes per lease length: renewEveryMs in lease-timings.ts (test/functions/polling holds the two). */
export const RENEWALS_PER_LEASE = 6;
/**
 * A holder that has not renewed within this share of the lease, two renewals, is presumed dead. Its lease still
 * stands until it runs out: presumed dead only makes a tick that finds it wait to take it over then, rather than
 * stand down and leave the shard idle until the next call.
 */
export const SILENT_SHARE = 2 / RENEWALS_PER_LEASE;

/**
 * What a tick claims the lease for: when its polling ends, given when the last scheduled tick's slot ends
 * (undefined when no scheduled tick has held this lease), and whether that end is a slot's end, where the next
 * Cloud Scheduler call takes over.
 */
export type ClaimTerms = (scheduledUntil: number | undefined) => {
  pollsUntil: number;
  slot: boolean;
};

/** The lease as a registration sees it, to know whether a tick will poll what it just stored. */
export interface LeaseState {
  /** The holder's lease runs until then; 0 when free. */
  until: number;
  /** When the holder's polling ends, if it said. */
  pollsUntil?: number;
  /** The document's last write (a claim, renewal or release); undefined when there never was one. */
  updatedAt?: Timestamp;
  /** When the holder's next renewal is due at the latest: past it, the holder is presumed dead. */
  renewBy?: number;
}

/** Whether a lease is held, at `now`, by a holder presumed dead: it stopped renewing. */
export function silent(lease: LeaseState, now: number): boolean {
  return (
    lease.until > now && lease.renewBy !== undefined && now > lease.renewBy
  );
}

function millisOf(value: unknown): number | undefined {
  return value instanceof Timestamp ? value.toMillis() : undefined;
}

/** The document of the lease of one shard (see leaseId in core/shards.ts). */
export function leaseRef(
  firestore: Firestore,
  collection: string,
  name: string,
): DocumentReference {
  return firestore.collection(`${collection}_leases`).doc(name);
}

/** What a read of the lease document says; a missing document is a free lease. */
function leaseStateOf(snapshot: DocumentSnapshot): LeaseState {
  return {
    until: millisOf(snapshot.get('until')) ?? 0,
    pollsUntil: millisOf(snapshot.get('pollsUntil')),
    updatedAt: snapshot.updateTime,
    renewBy: millisOf(snapshot.get('renewBy')),
  };
}

/** Reads a lease without claiming it. */
export async function readLease(ref: DocumentReference): Promise<LeaseState> {
  return leaseStateOf(await ref.get());
}

/** A lease on the poll work of one shard of a registration collection. */
export class PollLease {
  private readonly ref: DocumentReference;
  private lastWrite: Timestamp | undefined;
  private heldUntil = 0;

  constructor(
    firestore: Firestore,
    collection: string,
    /** Who asks: unique per tick. */
    readonly holder: string,
    private readonly durationMs: number,
    private readonly now: () => number = Date.now,
    /** The lease document, one per shard (see leaseId in core/shards.ts). */
    name = 'poller',
  ) {
    this.ref = leaseRef(firestore, collection, name);
  }

  /**
   * Until when this holder may act: the lease's end as of its last successful claim or renewal, counted from
   * before that write was sent, so never later than what the document says.
   */
  get validUntil(): number {
    return this.heldUntil;
  }

  /**
   * Takes the lease if it is free or has run out; `pollsUntil` (when this tick's budget ends) tells the next
   * tick whether to wait for it.
   */
  async acquire(pollsUntil?: number): Promise<boolean> {
    const terms = pollsUntil === undefined ? undefined : fixed(pollsUntil);
    return (await this.tryAcquire(terms)).acquired !== undefined;
  }

  /**
   * Takes the lease, waiting up to `waitMs` for a holder whose budget ends within that time to hand it over
   * (release it, or let it run out). A holder with more of its budget left is another tick at work, and this one
   * stands down, once it has seen that holder renew: a holder that does not (presumed dead, {@link SILENT_SHARE})
   * has its lease taken as soon as it runs out, so a crash idles the shard for the rest of one lease, not until
   * the next call.
   * @returns when the claimed polling ends, or undefined when the lease stayed another's.
   */
  async acquireOnHandOver(
    terms: ClaimTerms,
    waitMs: number,
    /** The pause between two looks, on the caller's clock. */
    sleep: (ms: number) => Promise<unknown> = delay,
  ): Promise<number | undefined> {
    const pauseMs = HAND_OVER_PAUSE_MS;
    const giveUpAt = this.now() + waitMs;
    /** The holder's renewal deadline when this tick first found it at work. */
    let watched: number | undefined;
    for (;;) {
      // Each look within the lease's length: an unreachable Firestore fails the claim now, not after the wait.
      const attempt = await within(
        this.tryAcquire(terms),
        this.durationMs,
        'claiming the lease',
      );
      if (attempt.acquired !== undefined) return attempt.acquired;
      const held = attempt.held;
      const now = this.now();
      if (!held) {
        // Another claim won the write: look at what it holds.
        await sleep(pauseMs);
        continue;
      }
      const handsOver = (held.pollsUntil ?? Infinity) <= giveUpAt;
      if (handsOver && now + pauseMs <= giveUpAt) {
        await sleep(pauseMs);
      } else if (silent(held, now)) {
        await sleep(Math.min(pauseMs, held.until - now));
      } else if (
        held.renewBy === undefined ||
        (watched !== undefined && held.renewBy !== watched)
      ) {
        // At work: it renewed since this tick first looked (or says nothing of when it will).
        return undefined;
      } else {
        // Look again when its next renewal is due (a sixth of the lease before the deadline), then at the deadline.
        const due =
          watched === undefined
            ? held.renewBy - this.durationMs / RENEWALS_PER_LEASE
            : held.renewBy;
        watched = held.renewBy;
        await sleep(Math.max(0, due - now) + pauseMs);
      }
    }
  }

  /** `acquired`: when the claimed polling ends (the claim's askedAt when the terms say nothing). */
  private async tryAcquire(
    terms?: ClaimTerms,
  ): Promise<{acquired?: number; held?: LeaseState}> {
    const askedAt = this.now();
    const current = await this.ref.get();
    const held = leaseStateOf(current);
    if (held.until > askedAt) return {held};
    const claimed = terms?.(millisOf(current.get('scheduledUntil')));
    const pollsUntil = claimed?.pollsUntil;
    const claim = {
      holder: this.holder,
      ...this.terms(askedAt),
      ...(claimed && {
        pollsUntil: Timestamp.fromMillis(claimed.pollsUntil),
        ...(claimed.slot && {
          scheduledUntil: Timestamp.fromMillis(claimed.pollsUntil),
        }),
      }),
    };
    try {
      const written = current.exists
        ? await this.ref.update(claim, {lastUpdateTime: current.updateTime!})
        : await this.ref.create(claim);
      this.held(written.writeTime, askedAt);
      return {acquired: pollsUntil ?? askedAt};
    } catch (error) {
      if (lostRace(error)) return {};
      throw error;
    }
  }

  /** Extends the lease; false when it was lost (another tick took it after it ran out). */
  async renew(): Promise<boolean> {
    if (!this.lastWrite) return false;
    const askedAt = this.now();
    try {
      const written = await this.ref.update(this.terms(askedAt), {
        lastUpdateTime: this.lastWrite,
      });
      this.held(written.writeTime, askedAt);
      return true;
    } catch (error) {
      if (lostRace(error)) return false;
      throw error;
    }
  }

  /** Gives the lease up, so the next tick need not wait for it to run out. */
  async release(): Promise<void> {
    if (!this.lastWrite) return;
    try {
      // Marked free, not deleted: the document keeps the scheduled slot, and its update time moves on.
      await this.ref.update(
        {until: Timestamp.fromMillis(0)},
        {lastUpdateTime: this.lastWrite},
      );
    } catch (error) {
      if (!lostRace(error)) throw error;
    } finally {
      this.lastWrite = undefined;
      this.heldUntil = 0;
    }
  }

  /** What a claim or renewal asked at `askedAt` writes: until when it holds, and by when it renews again. */
  private terms(askedAt: number) {
    return {
      until: Timestamp.fromMillis(askedAt + this.durationMs),
      renewBy: Timestamp.fromMillis(askedAt + this.durationMs * SILENT_SHARE),
    };
  }

  private held(writeTime: Timestamp, askedAt: number): void {
    this.lastWrite = writeTime;
    this.heldUntil = askedAt + this.durationMs;
  }
}

/** Terms that end the polling at a fixed time, not a slot's end. */
function fixed(pollsUntil: number): ClaimTerms {
  return () => ({pollsUntil, slot: false});
}
