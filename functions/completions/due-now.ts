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
import {
  Timestamp,
  type DocumentSnapshot,
  type Firestore,
} from '@google-cloud/firestore';
import {
  FAILED_PRECONDITION,
  INVALID_ARGUMENT,
  NOT_FOUND,
  firestoreCode,
} from '../platform/firestore';
import type {Logger} from '../platform/log';
import {toDocument} from '../core/document';
import {COMPLETION_KEY_FIELD} from '../core/completion-events';
import {MIN_POLL_INTERVAL_MS} from '../core/policy';

/** Attempts per registration when its write keeps meeting a newer version (a busy tick). */
const MARK_ATTEMPTS = 3;
/** Completion events make one registration due at most once per this interval. */
export const EVENT_INTERVAL_MS = 5000;

/** A stored time field, or undefined when it is absent or not a time (a document broken by hand, say). */
function millisOf(doc: DocumentSnapshot, field: string): number | undefined {
  const value: unknown = doc.get(field);
  return value instanceof Timestamp ? value.toMillis() : undefined;
}

/** Registrations of one collection, looked up by their operation's completion key. */
export class DueNow {
  constructor(
    private readonly firestore: Firestore,
    private readonly collectionName: string,
    private readonly retentionMs: number,
    /** Where a registration left alone for its own data is said; silent without. */
    private readonly log?: Logger,
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

  /**
   * Makes one registration due. One document's own fault (a `nextPollAt` that is no time, a write Firestore
   * refuses for its content) leaves that one alone, said in the log; only Firestore failing throws, so the event
   * is redelivered for that and nothing else. A hidden document is the poller's sweep's to report and end.
   */
  private async markOne(
    doc: DocumentSnapshot,
    now: number,
    attempts: number,
  ): Promise<string | undefined> {
    if (!doc.exists || doc.get('state') !== 'pending') return undefined;
    const nextPollAt = millisOf(doc, 'nextPollAt');
    if (nextPollAt === undefined) {
      this.log?.error('completion event: registration left alone', {
        registrationId: doc.id,
        problem: 'nextPollAt is not a timestamp',
      });
      return undefined;
    }
    const eventDueAt = millisOf(doc, 'eventDueAt');
    if (eventDueAt !== undefined && now - eventDueAt < EVENT_INTERVAL_MS)
      return undefined;
    const dueAt = Math.max(
      now,
      (millisOf(doc, 'lastPolledAt') ?? -Infinity) + MIN_POLL_INTERVAL_MS,
    );
    if (nextPollAt <= dueAt) return doc.id;
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
      const code = firestoreCode(error);
      if (code === NOT_FOUND) return undefined;
      if (code === INVALID_ARGUMENT) {
        this.log?.error('completion event: registration left alone', {
          registrationId: doc.id,
          problem: (error as Error).message,
        });
        return undefined;
      }
      if (code !== FAILED_PRECONDITION || attempts <= 1) throw error;
      return this.markOne(await doc.ref.get(), now, attempts - 1);
    }
  }

  /** Of these registrations, the ids still pending and due at `since`: not polled since they were marked. */
  async unpolled(ids: string[], since: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const refs = ids.map(id => this.collection.doc(id));
    const docs = await this.firestore.getAll(...refs);
    return docs
      .filter(doc => {
        const nextPollAt = millisOf(doc, 'nextPollAt');
        return (
          doc.get('state') === 'pending' &&
          nextPollAt !== undefined &&
          nextPollAt <= since
        );
      })
      .map(doc => doc.id);
  }
}
