/**
 * The watch store: one document per watch in `<collection>_watches`, shaped for the poller's query (`state ==
 * "active"`, bucket in the shard's range, `nextListAt <= now`: composite index in infra/firestore.tf), for the API
 * (by owner, by id) and for completion events (by parent). A watch's registrations live with every other
 * registration, in `<collection>`, each with the watch's id in `watchId`.
 */
import {
  FieldValue,
  Timestamp,
  type DocumentSnapshot,
  type Firestore,
  type QueryDocumentSnapshot,
} from '@google-cloud/firestore';
import {toDocument} from '../core/document';
import {FAILED_PRECONDITION, firestoreCode} from '../platform/firestore';
import type {BucketRange} from '../core/shards';
import {
  newWatchId,
  watchKey,
  type NewWatch,
  type Watch,
  type WatchState,
} from '../core/watch';
import {readWatch, toWatchDocument} from '../core/watch-document';

/** Registrations cancelled per batch when a watch is cancelled (Firestore's limit is 500 writes). */
const CANCEL_BATCH = 400;

/** The collection of the watches of registrations kept in `collection`. */
export function watchCollectionName(collection: string): string {
  return `${collection}_watches`;
}

/** A page of watches. */
export interface WatchPage {
  watches: Watch[];
  /** The last id of this page, when there is another. */
  lastId?: string;
}

/** Reads and writes watches. */
export class WatchStore {
  constructor(
    readonly firestore: Firestore,
    readonly registrationsName: string,
    readonly retentionMs: number,
  ) {}

  /** The collection holding the watches. */
  get collection() {
    return this.firestore.collection(
      watchCollectionName(this.registrationsName),
    );
  }

  /**
   * Starts a watch, or finds the active one of the same owner, service, parent, filter and topic.
   * @returns the watch, and whether this call started it.
   */
  async create(
    request: NewWatch,
    owner: string,
    now: number,
    tenant?: string,
  ): Promise<{watch: Watch; created: boolean}> {
    const watch: Watch = {
      ...request,
      id: newWatchId(),
      owner,
      ...(tenant !== undefined && {tenant}),
      state: 'active',
      createdAt: now,
      updatedAt: now,
      deadline: now + request.timeoutMs,
      nextListAt: now,
      lists: 0,
      baseline: [],
      errorStreak: 0,
    };
    const active = this.collection
      .where('key', '==', watchKey(request, owner))
      .where('state', '==', 'active')
      .limit(1);
    return this.firestore.runTransaction(async transaction => {
      const found = await transaction.get(active);
      if (!found.empty)
        return {watch: readWatch(found.docs[0]), created: false};
      transaction.create(
        this.collection.doc(watch.id),
        toWatchDocument(watch, this.retentionMs),
      );
      return {watch, created: true};
    });
  }

  /** The watch with this id, if any. */
  async get(id: string): Promise<Watch | undefined> {
    const snapshot = await this.collection.doc(id).get();
    return snapshot.exists ? readWatch(snapshot) : undefined;
  }

  /** A page of watches in id order, optionally of one state, owner or tenant. */
  async list(options: {
    state?: WatchState;
    owner?: string;
    tenant?: string;
    pageSize: number;
    after?: string;
  }): Promise<WatchPage> {
    let query = this.collection.orderBy('__name__').limit(options.pageSize + 1);
    for (const field of ['state', 'owner', 'tenant'] as const) {
      const value = options[field];
      if (value !== undefined) query = query.where(field, '==', value);
    }
    if (options.after) query = query.startAfter(options.after);
    const {docs} = await query.get();
    const page = docs.slice(0, options.pageSize).map(readWatch);
    return docs.length > options.pageSize
      ? {watches: page, lastId: page[page.length - 1].id}
      : {watches: page};
  }

  /**
   * Stops a watch: an active one becomes `cancelled`, and so do its pending registrations; one that ended is left as
   * it is.
   * @param owner when given, only a watch of this owner is cancelled; another's counts as none.
   * @returns the watch after the call, or undefined if there is none.
   */
  async cancel(
    id: string,
    now: number,
    owner?: string,
  ): Promise<Watch | undefined> {
    const ref = this.collection.doc(id);
    const watch = await this.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(ref);
      if (!snapshot.exists) return undefined;
      const found = readWatch(snapshot);
      if (owner !== undefined && found.owner !== owner) return undefined;
      if (found.state !== 'active') return found;
      const update = {state: 'cancelled' as const, updatedAt: now};
      transaction.update(
        ref,
        toWatchDocument({...update, finishedAt: now}, this.retentionMs),
      );
      return {...found, ...update, finishedAt: now};
    });
    if (watch?.state === 'cancelled') await this.cancelRegistrations(id, now);
    return watch;
  }

  /** Cancels the pending registrations a watch made; the poller's writes carry preconditions, so a cancel wins. */
  async cancelRegistrations(watchId: string, now: number): Promise<number> {
    const pending = await this.firestore
      .collection(this.registrationsName)
      .where('watchId', '==', watchId)
      .where('state', '==', 'pending')
      .get();
    const update = toDocument(
      {state: 'cancelled', updatedAt: now, finishedAt: now},
      this.retentionMs,
    );
    for (let at = 0; at < pending.docs.length; at += CANCEL_BATCH) {
      const batch = this.firestore.batch();
      for (const doc of pending.docs.slice(at, at + CANCEL_BATCH))
        batch.update(doc.ref, update);
      await batch.commit();
    }
    return pending.size;
  }

  /** Up to `limit` active watches of the buckets in `range` due to list at or before `dueBy`. */
  async due(
    range: BucketRange,
    dueBy: number,
    limit: number,
  ): Promise<QueryDocumentSnapshot[]> {
    return (await this.dueQuery(range, dueBy).limit(limit).get()).docs;
  }

  /** Whether an active watch of the buckets in `range` is due to list before `by`. */
  async anyDueBefore(range: BucketRange, by: number): Promise<boolean> {
    return !(
      await this.dueQuery(range, by - 1)
        .limit(1)
        .get()
    ).empty;
  }

  private dueQuery(range: BucketRange, dueBy: number) {
    return this.collection
      .where('state', '==', 'active')
      .where('bucket', '>=', range.from)
      .where('bucket', '<', range.to)
      .where('nextListAt', '<=', Timestamp.fromMillis(dueBy))
      .orderBy('bucket')
      .orderBy('nextListAt');
  }

  /**
   * Writes a list's result, unless the watch changed since `snapshot` was read (a cancel meanwhile stands).
   * `lastError` given as undefined is deleted.
   */
  async save(
    snapshot: DocumentSnapshot,
    update: Partial<Watch>,
  ): Promise<void> {
    const document = toWatchDocument(update, this.retentionMs);
    if ('lastError' in update && update.lastError === undefined)
      document.lastError = FieldValue.delete();
    await snapshot.ref.update(document, {
      lastUpdateTime: snapshot.updateTime!,
    });
  }

  /**
   * Makes the active watches of a parent (by its key, parentKeyOf) list now: a completion event of an operation
   * under it. Never sooner than `floorMs` after a watch's last list, so a burst of events lists once, not per event.
   * @returns the ids of the watches made (or already) due.
   */
  async markDueByParent(
    parentKey: string,
    now: number,
    floorMs: number,
  ): Promise<string[]> {
    const found = await this.collection
      .where('parentKey', '==', parentKey)
      .where('state', '==', 'active')
      .get();
    const millis = (doc: DocumentSnapshot, field: string) =>
      (doc.get(field) as Timestamp | undefined)?.toMillis();
    // A failed precondition means a tick wrote the watch meanwhile, listing it: that list is the one wanted.
    await Promise.all(
      found.docs.map(doc => {
        const dueAt = Math.max(
          now,
          (millis(doc, 'lastListedAt') ?? -Infinity) + floorMs,
        );
        if (millis(doc, 'nextListAt')! <= dueAt) return undefined;
        return doc.ref
          .update(
            toWatchDocument(
              {nextListAt: dueAt, updatedAt: now},
              this.retentionMs,
            ),
            {lastUpdateTime: doc.updateTime},
          )
          .catch((error: unknown) => {
            if (firestoreCode(error) !== FAILED_PRECONDITION) throw error;
          });
      }),
    );
    return found.docs.map(doc => doc.id);
  }
}
