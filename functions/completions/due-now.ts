/**
 * The completions function's side of the store: the pending registrations of one operation, found with one
 * indexed query on the lookup key, made due now with one write each.
 *
 * Each write carries the update time the query read, as the poller's do: a registration a tick or a cancel
 * changed meanwhile is read again, and left alone once it is no longer pending.
 *
 * Events make one registration due at most once every {@link EVENT_INTERVAL_MS} (its `eventDueAt` says when they
 * last did), however many arrive, duplicates included; and never sooner than the poller's floor after its last
 * poll (core/policy.ts MIN_POLL_INTERVAL_MS), so events cannot make it poll in a loop.
 */
import type {
  Firestore,
  DocumentSnapshot,
  Timestamp,
} from '@google-cloud/firestore';
import {FAILED_PRECONDITION, firestoreCode} from '../platform/firestore';
import {toDocument} from '../core/document';
import {COMPLETION_KEY_FIELD} from '../core/completion-events';
import {MIN_POLL_INTERVAL_MS} from '../core/policy';

/** Attempts per registration when its write keeps meeting a newer version (a busy tick). */
const MARK_ATTEMPTS = 3;
/** Completion events make one registration due at most once per this interval. */
export const EVENT_INTERVAL_MS = 5000;

const millisOf = (doc: DocumentSnapshot, field: string) =>
  (doc.get(field) as Timestamp | undefined)?.toMillis();

/** Registrations of one collection, looked up by their operation's completion key. */
export class DueNow {
  constructor(
    private readonly firestore: Firestore,
    private readonly collectionName: string,
    private readonly retentionMs: number,
  ) {}

  private get collection() {
    return this.firestore.collection(this.collectionName);
  }

  /**
   * Makes every pending registration with this key due at `now`, or at the floor after its last poll. One already
   * due by then is not written again, and one an event made due less than {@link EVENT_INTERVAL_MS} ago is left
   * alone, so a duplicate event changes nothing.
   * @returns the ids of the pending registrations made (or already) due.
   */
  async markDue(key: string, now: number): Promise<string[]> {
    const snapshot = await this.collection
      .where(COMPLETION_KEY_FIELD, '==', key)
      .where('state', '==', 'pending')
      .get();
    const ids = await Promise.all(
      snapshot.docs.map(doc => this.markOne(doc, now, MARK_ATTEMPTS)),
    );
    return ids.filter((id): id is string => id !== undefined);
  }

  private async markOne(
    doc: DocumentSnapshot,
    now: number,
    attempts: number,
  ): Promise<string | undefined> {
    if (!doc.exists || doc.get('state') !== 'pending') return undefined;
    const eventDueAt = millisOf(doc, 'eventDueAt');
    if (eventDueAt !== undefined && now - eventDueAt < EVENT_INTERVAL_MS)
      return undefined;
    const dueAt = Math.max(
      now,
      (millisOf(doc, 'lastPolledAt') ?? -Infinity) + MIN_POLL_INTERVAL_MS,
    );
    if (millisOf(doc, 'nextPollAt')! <= dueAt) return doc.id;
    try {
      await doc.ref.update(
        toDocument(
          {nextPollAt: dueAt, eventDueAt: now, updatedAt: now},
          this.retentionMs,
        ),
        {lastUpdateTime: doc.updateTime!},
      );
      return doc.id;
    } catch (error) {
      if (firestoreCode(error) !== FAILED_PRECONDITION || attempts <= 1)
        throw error;
      return this.markOne(await doc.ref.get(), now, attempts - 1);
    }
  }

  /** Of these registrations, the ids still pending and due at `since`: not polled since they were marked. */
  async unpolled(ids: string[], since: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const refs = ids.map(id => this.collection.doc(id));
    const docs = await this.firestore.getAll(...refs);
    return docs
      .filter(
        doc =>
          doc.get('state') === 'pending' &&
          millisOf(doc, 'nextPollAt')! <= since,
      )
      .map(doc => doc.id);
  }
}
