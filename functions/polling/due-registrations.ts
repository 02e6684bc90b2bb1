/**
 * The poller's side of the store: pages of due registrations in due order, and the one write after each poll.
 *
 * Writes go through a BulkWriter, so many polls share a request while each write keeps its own precondition
 * (the document's update time when it was read): a write from a tick that lost its lease, or about a watch
 * cancelled meanwhile, fails instead of overwriting newer state.
 */
import {
  Timestamp,
  type BulkWriter,
  type DocumentReference,
  type Firestore,
  type QueryDocumentSnapshot,
  type WriteResult,
} from '@google-cloud/firestore';
import {toDocument} from '../registration/document';
import type {PollUpdate} from '../registration/store';

/** How long a write waits for others to share its request. */
const WRITE_BATCH_WINDOW_MS = 5;

/** Firestore's code for a failed precondition. */
export const FAILED_PRECONDITION = 9;

/** Pending registrations of one collection, read in due order and updated after each poll. */
export class DueRegistrations {
  private readonly writer: BulkWriter;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly firestore: Firestore,
    private readonly collectionName: string,
    private readonly retentionMs: number,
  ) {
    // The default ramp-up (500 writes/s, +50 % every 5 min) suits bulk imports, not a poller that must keep up.
    this.writer = firestore.bulkWriter({throttling: false});
    this.writer.onWriteError(
      error => error.code !== FAILED_PRECONDITION && error.failedAttempts < 5,
    );
  }

  /**
   * Up to `limit` pending registrations due at or before `dueBy`, earliest first, after `cursor` if given
   * (the last document of the previous page).
   */
  async page(
    dueBy: number,
    limit: number,
    cursor?: QueryDocumentSnapshot,
  ): Promise<{docs: QueryDocumentSnapshot[]; readTime: Timestamp}> {
    let query = this.firestore
      .collection(this.collectionName)
      .where('state', '==', 'pending')
      .where('nextPollAt', '<=', Timestamp.fromMillis(dueBy))
      .orderBy('nextPollAt')
      .limit(limit);
    if (cursor) query = query.startAfter(cursor);
    const {docs, readTime} = await query.get();
    return {docs, readTime};
  }

  /** When the earliest pending registration is due, or undefined when none is pending. */
  async nextDueAt(): Promise<number | undefined> {
    // Only Timestamps: a malformed document's number or string sorts before them, and would hide every due time.
    const snapshot = await this.firestore
      .collection(this.collectionName)
      .where('state', '==', 'pending')
      .where('nextPollAt', '>=', Timestamp.fromMillis(0))
      .orderBy('nextPollAt')
      .limit(1)
      .get();
    const next: unknown = snapshot.docs[0]?.get('nextPollAt');
    return next instanceof Timestamp ? next.toMillis() : undefined;
  }

  /** Writes a poll's result, provided the document has not changed since `readAt` (its update time). */
  save(
    ref: DocumentReference,
    update: PollUpdate,
    readAt: Timestamp,
  ): Promise<WriteResult> {
    const written = this.writer.update(
      ref,
      toDocument(update, this.retentionMs),
      {lastUpdateTime: readAt},
    );
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.writer.flush();
    }, WRITE_BATCH_WINDOW_MS);
    return written;
  }

  /** Sends every pending write and waits for them. */
  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.writer.flush();
  }
}
