/** Shard ranges are pure arithmetic: every bucket belongs to exactly one shard, and rangeOwning finds it. */
import {
  BUCKETS,
  bucketOf,
  bucketRange,
  rangeOwning,
} from '../../../functions/core/shards';

const shardCounts = [1, 2, 3, 4, 7, 16, 100, BUCKETS];

test.each(shardCounts)(
  'with %i shards the ranges cover every bucket exactly once',
  shards => {
    const owners = new Array<number>(BUCKETS).fill(0);
    for (let shard = 0; shard < shards; shard++) {
      const {from, to} = bucketRange(shard, shards);
      for (let bucket = from; bucket < to; bucket++) owners[bucket]++;
    }
    expect(owners.every(count => count === 1)).toBe(true);
  },
);

test.each(shardCounts)(
  'with %i shards rangeOwning(id) is the range that holds its bucket',
  shards => {
    for (let n = 0; n < 500; n++) {
      const id = `registration-${n}`;
      const range = rangeOwning(id, shards);
      expect(bucketOf(id)).toBeGreaterThanOrEqual(range.from);
      expect(bucketOf(id)).toBeLessThan(range.to);
      const shard = Array.from({length: shards}, (_, k) =>
        bucketRange(k, shards),
      ).findIndex(r => r.from === range.from && r.to === range.to);
      expect(shard).toBeGreaterThanOrEqual(0);
    }
  },
);
