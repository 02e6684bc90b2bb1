/**
 * The poller's side of the store: pages of one shard's due registrations, and the one write after each poll.
 *
 * The due query (`state == "pending"`, bucket in the shard's range, `nextPollAt <= now`) is served by the
 * composite index (state, bucket, nextPollAt) of infra/firestore.tf. It reads in (bucket, nextPollAt) order: the
 * price of an index whose pending entries spread over the buckets instead of lining up by time is that a page
 * is due order per bucket, not overall. Every due registration is still read once per sweep of the range.
 *
 * Writes share requests (platform/batched-writes.ts) while each keeps its own precondition (the document's update time
 * when it was read): a write from a tick that lost its lease, or about a watch cancelled meanwhile, fails instead
 * of overwriting newer state.
 */
import {
  FieldPath,
  Timestamp,
  type DocumentReference,
  type Firestore,
  type QueryDocumentSnapshot,
  type WriteResult,
} from '@google-cloud/firestore';
import {BatchedWrites} from '../platform/batched-writes';
import {
  FAILED_PRECONDITION,
  INVALID_ARGUMENT,
  NOT_FOUND,
} from '../platform/firestore';
import {toDocument, type PollUpdate} from '../core/document';
import type {BucketRange} from '../core/shards';

/** The fields queries filter on, beside `state`, and the deadline that bounds the due time. */
export const QUERIED_FIELDS = [
  'bucket',
  'nextPollAt',
  'owner',
  'completionKey',
  'deadline',
] as const;

/** Codes a poll's write is not tried again on. */
const FINAL_CODES = new Set<number>([
  FAILED_PRECONDITION,
  INVALID_ARGUMENT,
  NOT_FOUND,
]);
/** Tries of a poll's write before it fails. */
const WRITE_ATTEMPTS = 5;

/** Pending registrations of one collection, read in due order and updated after each poll. */
export class DueRegistrations {
  private readonly writes: BatchedWrites;

  constructor(
    private readonly firestore: Firestore,
    private readonly collectionName: string,
    private readonly retentionMs: number,
  ) {
    // A lost precondition, a deleted document or one Firestore will not store fails the same way every time.
    this.writes = new BatchedWrites(
      firestore,
      error =>
        !FINAL_CODES.has(error.code) && error.failedAttempts < WRITE_ATTEMPTS,
    );
  }

  /**
   * Up to `limit` pending registrations of the buckets in `range` due at or before `dueBy`, in (bucket,
   * nextPollAt) order, after `cursor` if given (the last document of the previous page).
   */
  async page(
    range: BucketRange,
    dueBy: number,
    limit: number,
    cursor?: QueryDocumentSnapshot,
  ): Promise<{docs: QueryDocumentSnapshot[]; readTime: Timestamp}> {
    let query = this.due(range, dueBy).limit(limit);
    if (cursor) query = query.startAfter(cursor);
    const {docs, readTime} = await query.get();
    return {docs, readTime};
  }

  /** Whether a pending registration of the buckets in `range` falls due before `by`: one read at most. */
  async anyDueBefore(range: BucketRange, by: number): Promise<boolean> {
    // An earliest-due query across buckets would need an index led by nextPollAt, the hot one this avoids.
    const snapshot = await this.due(range, by - 1)
      .limit(1)
      .get();
    return !snapshot.empty;
  }

  /**
   * Up to `limit` pending registrations in id order after `after` (from the first without it), with only the
   * fields the poller's and the quota's queries filter on: what the sweep for hidden registrations checks.
   */
  async pendingPage(
    after: string | undefined,
    limit: number,
  ): Promise<QueryDocumentSnapshot[]> {
    let query = this.firestore
      .collection(this.collectionName)
      .where('state', '==', 'pending')
      .orderBy(FieldPath.documentId())
      .select(...QUERIED_FIELDS)
      .limit(limit);
    if (after !== undefined) query = query.startAfter(after);
    return (await query.get()).docs;
  }

  private due(range: BucketRange, dueBy: number) {
    return this.firestore
      .collection(this.collectionName)
      .where('state', '==', 'pending')
      .where('bucket', '>=', range.from)
      .where('bucket', '<', range.to)
      .where('nextPollAt', '<=', Timestamp.fromMillis(dueBy))
      .orderBy('bucket')
      .orderBy('nextPollAt');
  }

  /** Writes a poll's result, provided the document has not changed since `readAt` (its update time). */
  save(
    ref: DocumentReference,
    update: PollUpdate,
    readAt: Timestamp,
  ): Promise<WriteResult> {
    return this.writes.update(ref, toDocument(update, this.retentionMs), {
      lastUpdateTime: readAt,
    });
  }

  /** Sends every pending write and waits for them. */
  flush(): Promise<void> {
    return this.writes.flush();
  }
}
