/**
 * The poller's memory of how long each kind of operation takes: one Firestore document per kind, in
 * `{collection}_kinds`, holding the sums of functions/forecast/durations.ts.
 *
 * Finished operations add to their kind's sums in memory, and a flush writes each kind's sums as one write of
 * increments: a tick pays one write per kind it learned, not one per finished operation on top of the poll's own
 * (for a tick of operations that all finish, that was a second write per poll). Increments merge in Firestore, so
 * flushes from any instance at the same moment all count. The poller flushes at the end of every tick, and a
 * learn flushes by itself once what is pending is {@link KIND_FLUSH_MS} old, so a crash loses at most that much
 * history (never counts any twice). Reads are cached for a while: a kind's model moves slowly, and a tick must not
 * pay a read per poll. What is stored is checked: a document that makes no sense is ignored, never fatal.
 */
import {FieldValue, type Firestore} from '@google-cloud/firestore';
import {z} from 'zod';
import {
  durationIncrement,
  durationModel,
  type DurationModel,
  type DurationSums,
} from './durations';
import {kindDocumentId, type OperationKind} from './kind';
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

const sumsSchema = z.object({
  count: z.number().int().nonnegative(),
  sumLog: z.number(),
  sumLogSquares: z.number().nonnegative(),
});

/** Learned durations per kind, in Firestore. */
export class KindDurations {
  private readonly cache = new Map<
    string,
    {model: Promise<DurationModel | undefined>; readAt: number}
  >();

  /** Sums learned and not yet written, per kind key. */
  private pending = new Map<
    string,
    {kind: OperationKind; sums: DurationSums}
  >();
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

  private ref(kind: OperationKind) {
    return this.firestore
      .collection(`${this.collection}_kinds`)
      .doc(kindDocumentId(kind));
  }

  /**
   * The kind's model, or undefined while it has too little history, or when it cannot be read within the read
   * deadline (then the kind goes without history for {@link FAILED_READ_RETRY_MS}: polls do not each wait).
   */
  model(kind: OperationKind): Promise<DurationModel | undefined> {
    const cached = this.cache.get(kind.key);
    if (cached && this.now() - cached.readAt < KIND_CACHE_MS)
      return cached.model;
    const read = within(
      this.ref(kind).get(),
      this.readTimeoutMs,
      `reading the learned durations of ${kind.key}`,
    );
    const model = read
      .then(snapshot => {
        if (!snapshot.exists) return undefined;
        const sums = sumsSchema.safeParse(snapshot.data());
        if (!sums.success) {
          this.log.warn(
            `ignoring the learned durations of ${kind.key}: not as stored by opwatch`,
          );
          return undefined;
        }
        return durationModel(sums.data);
      })
      .catch((error: Error) => {
        // Polling goes on without the history; a read after a while tries again.
        this.cache.set(kind.key, {
          model: Promise.resolve(undefined),
          readAt: this.now() - KIND_CACHE_MS + FAILED_READ_RETRY_MS,
        });
        this.log.warn(
          `reading the learned durations of ${kind.key} failed: ${error.message}`,
        );
        return undefined;
      });
    this.cache.set(kind.key, {model, readAt: this.now()});
    return model;
  }

  /** Adds one finished operation's duration to its kind, to be written by the next flush. */
  learn(kind: OperationKind, durationMs: number): void {
    const add = durationIncrement(durationMs);
    const now = this.now();
    if (this.pending.size === 0) this.pendingSince = now;
    const entry = this.pending.get(kind.key);
    if (entry) {
      entry.sums.count += add.count;
      entry.sums.sumLog += add.sumLog;
      entry.sums.sumLogSquares += add.sumLogSquares;
    } else {
      this.pending.set(kind.key, {kind, sums: add});
    }
    if (now - this.pendingSince >= KIND_FLUSH_MS) void this.flush();
  }

  /**
   * Writes the sums learned since the last flush, one write of increments per kind, and waits for every flush
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
    kind,
    sums,
  }: {
    kind: OperationKind;
    sums: DurationSums;
  }): Promise<void> {
    try {
      await this.ref(kind).set(
        {
          kind: kind.key,
          count: FieldValue.increment(sums.count),
          sumLog: FieldValue.increment(sums.sumLog),
          sumLogSquares: FieldValue.increment(sums.sumLogSquares),
        },
        {merge: true},
      );
    } catch (error) {
      this.log.warn(
        `learning the durations of ${kind.key} failed (${sums.count} operations): ${(error as Error).message}`,
      );
    }
  }
}
