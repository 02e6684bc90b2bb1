/**
 * The poller's memory of how long each kind of operation takes: one Firestore document per kind, in
 * `{collection}_kinds`, holding the sums of functions/forecast/durations.ts.
 *
 * A finished operation adds to its kind's sums with one write of increments, so finishes on any instance at the
 * same moment all count. Reads are cached for a while: a kind's model moves slowly, and a tick must not pay a read
 * per poll. What is stored is checked: a document that makes no sense is ignored, never fatal.
 */
import {FieldValue, type Firestore} from '@google-cloud/firestore';
import {z} from 'zod';
import {
  durationIncrement,
  durationModel,
  type DurationModel,
} from '../forecast/durations';
import {kindDocumentId, type OperationKind} from '../forecast/kind';
import type {Logger} from '../log';

/** How long a kind's model read from Firestore is used before it is read again. */
export const KIND_CACHE_MS = 60_000;

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

  constructor(
    private readonly firestore: Firestore,
    private readonly collection: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private ref(kind: OperationKind) {
    return this.firestore
      .collection(`${this.collection}_kinds`)
      .doc(kindDocumentId(kind));
  }

  /** The kind's model, or undefined while it has too little history, or when it cannot be read. */
  model(kind: OperationKind): Promise<DurationModel | undefined> {
    const cached = this.cache.get(kind.key);
    if (cached && this.now() - cached.readAt < KIND_CACHE_MS)
      return cached.model;
    const model = this.ref(kind)
      .get()
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
        // Polling goes on without the history; the next read tries again.
        this.cache.delete(kind.key);
        this.log.warn(
          `reading the learned durations of ${kind.key} failed: ${error.message}`,
        );
        return undefined;
      });
    this.cache.set(kind.key, {model, readAt: this.now()});
    return model;
  }

  /** Adds one finished operation's duration to its kind. */
  async learn(kind: OperationKind, durationMs: number): Promise<void> {
    const add = durationIncrement(durationMs);
    await this.ref(kind).set(
      {
        kind: kind.key,
        count: FieldValue.increment(add.count),
        sumLog: FieldValue.increment(add.sumLog),
        sumLogSquares: FieldValue.increment(add.sumLogSquares),
      },
      {merge: true},
    );
  }
}
