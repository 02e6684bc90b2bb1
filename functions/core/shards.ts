/**
 * Shards of the poll work. Each registration carries a stable bucket, a hash of its id into {@link BUCKETS}
 * virtual buckets, stored with it at registration. `POLL_SHARDS` workers each own a contiguous range of buckets.
 *
 * The bucket never changes, only which shard owns it: changing `POLL_SHARDS` reassigns whole buckets, so every
 * registration stays in exactly one shard's range and none is lost. The bucket also leads the due query's index
 * (after the constant `state`), which spreads the ever-rising `nextPollAt` writes over many index ranges instead
 * of one (Firestore's limit of 500 writes/s for sequentially indexed values applies per range).
 */
import {createHash} from 'node:crypto';

/** Virtual buckets. A shard count must divide the work evenly enough: at most this many shards. */
export const BUCKETS = 256;

/** The bucket of a registration id, in [0, BUCKETS). */
export function bucketOf(id: string): number {
  // The id is already a SHA-256 digest for every registration opwatch makes; hashing again keeps the bucket
  // uniform for any id.
  return createHash('sha256').update(id).digest()[0] % BUCKETS;
}

/** The buckets one shard owns: `from` inclusive, `to` exclusive. */
export interface BucketRange {
  from: number;
  to: number;
}

/**
 * The contiguous range of buckets shard `shard` (0-based) of `shards` owns. The ranges of all shards cover every
 * bucket exactly once.
 */
export function bucketRange(shard: number, shards: number): BucketRange {
  if (!Number.isInteger(shards) || shards < 1 || shards > BUCKETS)
    throw new RangeError(`shards must be an integer in [1, ${BUCKETS}]`);
  if (!Number.isInteger(shard) || shard < 0 || shard >= shards)
    throw new RangeError(`shard must be an integer in [0, ${shards})`);
  return {
    from: Math.floor((shard * BUCKETS) / shards),
    to: Math.floor(((shard + 1) * BUCKETS) / shards),
  };
}

/** The shard (0-based) that owns `id`'s bucket, with `shards` shards. */
export function shardOwning(id: string, shards: number): number {
  return Math.floor(((bucketOf(id) + 1) * shards - 1) / BUCKETS);
}

/** The range of the shard that owns `id`'s bucket, with `shards` shards. */
export function rangeOwning(id: string, shards: number): BucketRange {
  return bucketRange(shardOwning(id, shards), shards);
}

/**
 * The lease document of a shard. One shard keeps the single lease of the unsharded poller, so a deployment
 * that never sets `POLL_SHARDS` keeps its lease; more shards lease each range by its buckets, so a worker of
 * one shard count never shares a lease with a different range.
 */
export function leaseId({from, to}: BucketRange): string {
  return from === 0 && to === BUCKETS ? 'poller' : `buckets-${from}-${to}`;
}
