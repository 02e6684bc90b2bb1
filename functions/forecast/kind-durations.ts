/**
 * The poller's memory of how long each kind of operation takes, kept per scope: one Firestore document per scope
 * and kind, in `{collection}_kinds`, holding the sums of functions/forecast/durations.ts per owner slot and era
 * (functions/forecast/history.ts weighs them).
 *
 * A scope is a tenant, or an owner where there are no tenants ({@link historyScope}): one team's operations never
 * set another's waits, so a team whose operations of a kind are slow cannot make another team's quick ones of
 * that kind wait. Another scope's history is not used even as a hint.
 *
 * Finished operations add to their scope and kind's sums in memory, and a flush writes each document's sums as one
 * write of increments: a tick pays one write per kind it learned, not one per finished operation on top of the
 * poll's own. Increments merge in Firestore, so flushes from any instance at the same moment all count. The poller
 * flushes at the end of every tick, and a learn flushes by itself once what is pending is {@link KIND_FLUSH_MS}
 * old, so a crash loses at most that much history (never counts any twice). Reads are cached for a while: a
 * kind's model moves slowly, and a tick must not pay a read per poll. What is stored is checked: a document that
 * makes no sense is ignored, never fatal.
 */
import {createHash} from 'node:crypto';
import {FieldValue, type Firestore} from '@google-cloud/firestore';
import {LRUCache} from 'lru-cache';
import {z} from 'zod';
import type {Registration} from '../core/model';
import {
  durationIncrement,
  type DurationModel,
  type DurationSums,
} from './durations';
import {
  added,
  eraOf,
  historyModel,
  learnedSums,
  slotOf,
  type StoredHistory,
} from './history';
import type {OperationKind} from './kind';
import {within} from '../platform/deadline';
import type {Logger} from '../platform/log';

/** How long a kind's model read from Firestore is used before it is read again. */
export const KIND_CACHE_MS = 60_000;
/** The longest learned sums wait in memory for the end of their tick before a learn writes them. */
export const KIND_FLUSH_MS = 10_000;
/** How long a kind's read may take unless the poller says (it gives a poll's write deadline). */
const READ_TIMEOUT_MS = 5_000;
/** After a read that failed or came too late, how long the kind goes without history before it is read again. */
export const FAILED_READ_RETRY_MS = 10_000;
/** Scope and kind models kept in memory, least recently used dropped first. */
const CACHED_MODELS = 10_000;

const sumsSchema = z.object({
  count: z.number().nonnegative(),
  sumLog: z.number(),
  sumLogSquares: z.number().nonnegative(),
});
const historySchema = z.object({
  eras: z.record(z.string(), z.record(z.string(), sumsSchema)).default({}),
});

/** Whose history a registration's operations learn from and teach: its tenant's, else its owner's. */
export function historyScope(
  registration: Pick<Registration, 'owner' | 'tenant'>,
): string {
  return registration.tenant !== undefined
    ? `tenant ${registration.tenant}`
    : `owner ${registration.owner}`;
}

/** The Firestore document id of a scope's kind: a digest, since both hold `/` and may be long. */
export function kindDocumentId(scope: string, kind: OperationKind): string {
  return createHash('sha256')
    .update(`${scope}\n${kind.key}`)
    .digest('hex')
    .slice(0, 32);
}

/** Sums learned and not yet written for one scope and kind, in one era. */
interface Pending {
  scope: string;
  kind: OperationKind;
  era: number;
  /** Weighted sums per owner slot. */
  slots: Map<string, DurationSums>;
  /** Finished operations they hold. */
  operations: number;
}

/** Learned durations per scope and kind, in Firestore. */
export class KindDurations {
  private readonly cache = new LRUCache<
    string,
    {model: Promise<DurationModel | undefined>; readAt: number}
  >({max: CACHED_MODELS});

  /** Sums learned and not yet written, per document and era. */
  private pending = new Map<string, Pending>();
  /** When the oldest of {@link pending} was learned. */
  private pendingSince = 0;
  /** Flushes under way, for {@link flush} to wait for. */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly firestore: Firestore,
    private readonly collection: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** The deadline of a kind's read: a poll waits for it, so it is shorter than the poll's slot. */
    private readonly readTimeoutMs = READ_TIMEOUT_MS,
  ) {}

  private ref(scope: string, kind: OperationKind) {
    return this.firestore
      .collection(`${this.collection}_kinds`)
      .doc(kindDocumentId(scope, kind));
  }

  /**
   * The kind's model in `scope`, or undefined while it has too little history, or when it cannot be read within
   * the read deadline (then the kind goes without history for {@link FAILED_READ_RETRY_MS}: polls do not each
   * wait).
   */
  model(
    kind: OperationKind,
    scope: string,
  ): Promise<DurationModel | undefined> {
    const id = kindDocumentId(scope, kind);
    const cached = this.cache.get(id);
    if (cached && this.now() - cached.readAt < KIND_CACHE_MS)
      return cached.model;
    const model = within(
      this.ref(scope, kind).get(),
      this.readTimeoutMs,
      `reading the learned durations of ${kind.key}`,
    )
      .then(snapshot => {
        if (!snapshot.exists) return undefined;
        const stored = historySchema.safeParse(snapshot.data());
        if (!stored.success) {
          this.log.warn(
            `ignoring the learned durations of ${kind.key} (${scope}): not as stored by opwatch`,
          );
          return undefined;
        }
        return historyModel(stored.data.eras as StoredHistory, this.now());
      })
      .catch((error: Error) => {
        // Polling goes on without the history; a read after a while tries again.
        this.cache.set(id, {
          model: Promise.resolve(undefined),
          readAt: this.now() - KIND_CACHE_MS + FAILED_READ_RETRY_MS,
        });
        this.log.warn(
          `reading the learned durations of ${kind.key} failed: ${error.message}`,
        );
        return undefined;
      });
    this.cache.set(id, {model, readAt: this.now()});
    return model;
  }

  /** Adds one finished operation's duration to its kind in `scope`, as `owner`'s, to be written by the next flush. */
  learn(
    kind: OperationKind,
    scope: string,
    owner: string,
    durationMs: number,
  ): void {
    const now = this.now();
    const era = eraOf(now);
    const key = `${kindDocumentId(scope, kind)} ${era}`;
    if (this.pending.size === 0) this.pendingSince = now;
    let entry = this.pending.get(key);
    if (!entry) {
      entry = {scope, kind, era, slots: new Map(), operations: 0};
      this.pending.set(key, entry);
    }
    const slot = slotOf(owner);
    const add = learnedSums(durationIncrement(durationMs), now);
    const kept = entry.slots.get(slot);
    entry.slots.set(slot, kept ? added(kept, add) : add);
    entry.operations++;
    if (now - this.pendingSince >= KIND_FLUSH_MS) void this.flush();
  }

  /**
   * Writes the sums learned since the last flush, one write of increments per document, and waits for every flush
   * under way. A write that fails is dropped with a warning: learning is an optimisation, and a write retried
   * after an unclear failure could count its operations twice.
   */
  async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const writing = Promise.all(batch.map(entry => this.write(entry))).then(
      () => undefined,
    );
    this.writing.add(writing);
    void writing.finally(() => this.writing.delete(writing));
    await Promise.all(this.writing);
  }

  private async write({
    scope,
    kind,
    era,
    slots,
    operations,
  }: Pending): Promise<void> {
    const increments = Object.fromEntries(
      [...slots].map(([slot, sums]) => [
        slot,
        {
          count: FieldValue.increment(sums.count),
          sumLog: FieldValue.increment(sums.sumLog),
          sumLogSquares: FieldValue.increment(sums.sumLogSquares),
        },
      ]),
    );
    try {
      await this.ref(scope, kind).set(
        {
          kind: kind.key,
          scope,
          // Eras before the last one weigh nothing any more: dropped as the history goes on.
          eras: {[era]: increments, [era - 2]: FieldValue.delete()},
        },
        {merge: true},
      );
    } catch (error) {
      this.log.warn(
        `learning the durations of ${kind.key} failed (${scope}, ${operations} operations): ${(error as Error).message}`,
      );
    }
  }
}
