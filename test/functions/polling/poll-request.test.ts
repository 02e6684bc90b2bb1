/**
 * The poll function's body: no shard, `{"shard": k}` (with `"wake": true` from a registration), or the same inside
 * a Pub/Sub push delivery.
 */
import {
  parsePollRequest,
  shardMessage,
} from '../../../functions/polling/poll-request';

const push = (data: string) => ({
  message: {data: Buffer.from(data).toString('base64'), messageId: '1'},
  subscription: 'projects/p/subscriptions/s',
});

describe('parsePollRequest', () => {
  it.each([undefined, {}, Buffer.alloc(0)])(
    'reads %p as a tick without a shard',
    body => {
      expect(parsePollRequest(body, 3)).toEqual({ok: true});
    },
  );

  it('reads the shard from the body or from a push delivery', () => {
    expect(parsePollRequest({shard: 2}, 3)).toEqual({ok: true, shard: 2});
    expect(parsePollRequest(push('{"shard": 1}'), 3)).toEqual({
      ok: true,
      shard: 1,
    });
  });

  it('reads a wake, and reads back the messages the fan-out and a wake publish', () => {
    expect(parsePollRequest({shard: 0, wake: true}, 1)).toEqual({
      ok: true,
      shard: 0,
      wake: true,
    });
    const delivered = (message: {data: Buffer}) =>
      parsePollRequest(push(message.data.toString()), 3);
    expect(delivered(shardMessage(2, true))).toEqual({
      ok: true,
      shard: 2,
      wake: true,
    });
    const fanOut = delivered(shardMessage(1));
    expect(fanOut).toEqual({ok: true, shard: 1});
    expect(fanOut.ok && fanOut.wake).toBeUndefined();
    expect(shardMessage(1).attributes).toEqual({shard: '1'});
  });

  it.each([
    [{shard: 0, wake: false}, 'wake'],
    [{shard: 3}, 'shard'],
    [{shard: -1}, 'shard'],
    [{shard: 0.5}, 'shard'],
    [{shard: '1'}, 'shard'],
    [{shard: 1, extra: true}, 'body'],
    [push('{"shard": "3"}'), 'message.data.shard'],
    [push('not json'), 'message.data'],
  ])('refuses %p, naming %s', (body, field) => {
    const parsed = parsePollRequest(body, 3);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problems[0].field).toBe(field);
  });

  it('acknowledges a delivery for a shard POLL_SHARDS no longer has, saying so, instead of refusing it', () => {
    for (const message of [shardMessage(3), shardMessage(5, true)]) {
      const parsed = parsePollRequest(push(message.data.toString()), 3);
      expect(parsed).toEqual({
        ok: true,
        ignored: expect.stringMatching(
          /^shard \d: must be below POLL_SHARDS \(3\)$/,
        ),
      });
    }
  });
});
