/** What the store writes: the shard bucket of a whole registration, and the cap on the last operation kept. */
import {
  MAX_PENDING_OPERATION_BYTES,
  MAX_STORED_OPERATION_BYTES,
  toDocument,
} from '../../../functions/core/document';
import {bucketOf} from '../../../functions/core/shards';
import type {Operation} from '../../../functions/core/model';

const RETENTION_MS = 86_400_000;
const operationOf = (bytes: number) => ({
  name: 'operations/op-1',
  done: false,
  metadata: {progress: 'x'.repeat(bytes)},
});

describe('toDocument', () => {
  it('stores a whole registration with the bucket of its id, and leaves it out of a poll update', () => {
    const id = '0123456789abcdef0123456789abcdef';
    expect(toDocument({id, state: 'pending'}, RETENTION_MS).bucket).toBe(
      bucketOf(id),
    );
    expect(
      toDocument({state: 'pending', attempts: 3}, RETENTION_MS),
    ).not.toHaveProperty('bucket');
  });

  it('keeps at most MAX_PENDING_OPERATION_BYTES of the last operation while pending, more once finished', () => {
    const small = operationOf(MAX_PENDING_OPERATION_BYTES / 2);
    const large = operationOf(MAX_PENDING_OPERATION_BYTES);
    const stored = (state: 'pending' | 'succeeded', lastOperation: Operation) =>
      JSON.parse(
        toDocument({state, lastOperation}, RETENTION_MS)
          .lastOperation as string,
      );
    expect(stored('pending', small)).toEqual(small);
    expect(stored('pending', large)).toEqual({
      name: 'operations/op-1',
      done: false,
    });
    expect(stored('succeeded', large)).toEqual(large);
    expect(
      stored('succeeded', operationOf(MAX_STORED_OPERATION_BYTES)),
    ).toEqual({name: 'operations/op-1', done: false});
  });
});
