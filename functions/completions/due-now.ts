/**
 * The completions function's side of the store: the pending registrations of one operation, found with one
 * indexed query on the lookup key, made due now with one write each.
 *
 * Each write carries the update time the query read, as the poller's do: a registration a tick or a cancel
 * changed meanwhile is read again, and left alone once it is no longer pending.
 */
import type {
  Firestore,
  DocumentSnapshot,
  Timestamp,
} from '@google-cloud/firestore';
import {FAILED_PRECONDITION, firestoreCode} from '../platform/firestore';
import {toDocument} from '../core/document';
import {COMPLETION_KEY_FIELD} from '../core/completion-events';

/** Attempts per registration when its write keeps meeting a newer version (a busy tick). */
const MARK_ATTEMPTS = 3;

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
   * Makes every pending registration with this key due at `now`. One already due is not written again, so a
   * duplicate event changes nothing.
   * @returns the ids of the pending registrations found (written or already due).
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
    if ((doc.get('nextPollAt') as Timestamp).toMillis() <= now) return doc.id;
    try {
      await doc.ref.update(
        toDocument({nextPollAt: now, updatedAt: now}, this.retentionMs),
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
          (doc.get('nextPollAt') as Timestamp).toMillis() <= since,
      )
      .map(doc => doc.id);
  }
}
