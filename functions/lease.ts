/**
 * The poller's lease: one document that says which tick may poll, and until when.
 *
 * One lease for the whole collection, rather than one per registration, keeps the cost of a poll at one read and
 * one write: overlapping ticks (Scheduler retries, a slow tick meeting the next one) find the lease held and
 * stand down, and a crashed tick's lease simply runs out. The holder renews it while it works; a tick that finds
 * its lease taken stops at once, and its writes carry update-time preconditions besides.
 */
import {
  Timestamp,
  type DocumentReference,
  type Firestore,
} from '@google-cloud/firestore';

/** A lease on the poll work of one registration collection. */
export class PollLease {
  private readonly ref: DocumentReference;

  constructor(
    private readonly firestore: Firestore,
    collection: string,
    /** Who asks: unique per tick. */
    readonly holder: string,
    private readonly durationMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ref = firestore.collection(`${collection}_leases`).doc('poller');
  }

  /** Takes the lease if it is free or expired, or extends it if this holder has it. */
  acquire(): Promise<boolean> {
    return this.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(this.ref);
      const now = this.now();
      const heldUntil =
        (snapshot.get('until') as Timestamp | undefined)?.toMillis() ?? 0;
      if (
        snapshot.exists &&
        snapshot.get('holder') !== this.holder &&
        heldUntil > now
      )
        return false;
      transaction.set(this.ref, {
        holder: this.holder,
        until: Timestamp.fromMillis(now + this.durationMs),
      });
      return true;
    });
  }

  /** Extends the lease; false when another holder has taken it meanwhile. */
  renew(): Promise<boolean> {
    return this.acquire();
  }

  /** Gives the lease up, so the next tick need not wait for it to run out. */
  async release(): Promise<void> {
    await this.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(this.ref);
      if (snapshot.get('holder') === this.holder) transaction.delete(this.ref);
    });
  }
}
