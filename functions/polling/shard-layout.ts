/**
 * Which shard layout (POLL_SHARDS) polls, while a change of it rolls out. A shard's lease is one per bucket range,
 * so the ticks of two layouts (old instances with 1 shard, new ones with 2) hold different leases over the same
 * buckets, and without more would poll, and publish, the same registrations at once.
 *
 * One document, `<collection>_leases/layout`, says which layout polls: its shard count, the start of the instance
 * that set it, and the layout before it. A tick checks it once it holds its own lease. A tick of another layout
 * stands down, unless its instance started after the one that set the layout: then it is the newer deployment,
 * and takes the layout over. A tick of the current layout, while the previous one's leases over its buckets are
 * still held (a tick of the old layout that began before the change), stands down too; they end within a tick.
 *
 * Why no tick of each layout can work at once: an old tick works only if its check, after its claim, saw the old
 * layout, so before the new layout was written; a new tick works only if, after writing the new layout (or seeing
 * it), it found the old leases free. An old claim made before the old check, made before the new write, made
 * before the new look at the old leases, is seen by that look.
 */
import {
  FieldValue,
  Timestamp,
  type DocumentReference,
  type DocumentSnapshot,
  type Firestore,
} from '@google-cloud/firestore';
import {BUCKETS, bucketRange, leaseId, type BucketRange} from '../core/shards';
import {leaseRef, lostRace} from './lease';

/** When this instance started: a newer deployment's instances start after the older one's. */
const INSTANCE_STARTED_AT = Date.now();
/** Reads of the layout when its writes keep losing to another instance's. */
const ATTEMPTS = 3;

/** The layout as stored; undefined when the document is missing or not one this version wrote. */
interface StoredLayout {
  shards: number;
  startedAt: number;
  previous?: number;
}

const isShardCount = (value: unknown): value is number =>
  Number.isInteger(value) &&
  (value as number) >= 1 &&
  (value as number) <= BUCKETS;

function layoutOf(snapshot: DocumentSnapshot): StoredLayout | undefined {
  const shards: unknown = snapshot.get('shards');
  const startedAt: unknown = snapshot.get('startedAt');
  const previous: unknown = snapshot.get('previous');
  if (!isShardCount(shards) || !(startedAt instanceof Timestamp))
    return undefined;
  return {
    shards,
    startedAt: startedAt.toMillis(),
    ...(isShardCount(previous) && {previous}),
  };
}

/** The ranges of `shards` shards that share a bucket with `range`, but for `range` itself. */
function overlapping(range: BucketRange, shards: number): BucketRange[] {
  return Array.from({length: shards}, (_, shard) =>
    bucketRange(shard, shards),
  ).filter(
    other =>
      other.from < range.to &&
      range.from < other.to &&
      leaseId(other) !== leaseId(range),
  );
}

/** This deployment's shard layout, against the one stored. */
export class ShardLayout {
  private readonly ref: DocumentReference;

  constructor(
    private readonly firestore: Firestore,
    private readonly collection: string,
    /** POLL_SHARDS. */
    private readonly shards: number,
    private readonly startedAt = INSTANCE_STARTED_AT,
  ) {
    this.ref = leaseRef(firestore, collection, 'layout');
  }

  /**
   * Whether a tick of this layout that holds the lease of `range` may work it now: the stored layout is this one
   * (or this instance takes it over), and no lease of the layout before it over these buckets is held at `now`.
   */
  async admits(range: BucketRange, now: number): Promise<boolean> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const snapshot = await this.ref.get();
      const stored = layoutOf(snapshot);
      if (stored?.shards === this.shards)
        return !(await this.held(range, stored.previous, now));
      if (stored && stored.startedAt >= this.startedAt) return false;
      try {
        await this.takeOver(snapshot, stored);
      } catch (error) {
        if (lostRace(error)) continue;
        throw error;
      }
      return !(await this.held(range, stored?.shards, now));
    }
    return false;
  }

  /** Makes this layout the one, the stored one its previous. */
  private async takeOver(
    snapshot: DocumentSnapshot,
    stored: StoredLayout | undefined,
  ): Promise<void> {
    const layout = {
      shards: this.shards,
      startedAt: Timestamp.fromMillis(this.startedAt),
    };
    if (!snapshot.exists) {
      await this.ref.create(layout);
      return;
    }
    await this.ref.update(
      {...layout, previous: stored ? stored.shards : FieldValue.delete()},
      {lastUpdateTime: snapshot.updateTime!},
    );
  }

  /** Whether a lease of `previous` shards over `range`'s buckets is held at `now`. */
  private async held(
    range: BucketRange,
    previous: number | undefined,
    now: number,
  ): Promise<boolean> {
    if (previous === undefined || previous === this.shards) return false;
    const refs = overlapping(range, previous).map(other =>
      leaseRef(this.firestore, this.collection, leaseId(other)),
    );
    if (refs.length === 0) return false;
    const leases = await this.firestore.getAll(...refs);
    return leases.some(lease => {
      const until: unknown = lease.get('until');
      return until instanceof Timestamp && until.toMillis() > now;
    });
  }
}
