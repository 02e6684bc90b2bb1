/**
 * Sharded polling on the real emulators: the real `poll` function in processes of its own, one per shard worker,
 * over registrations made through the real registration API. Every registration belongs to exactly one shard,
 * a change of POLL_SHARDS loses none, a killed worker's shard is taken over once its lease runs out, a Scheduler
 * tick fans out through a real Pub/Sub push subscription, and overlapping shard ticks publish nothing twice.
 */
import {PubSub} from '@google-cloud/pubsub';
import {BUCKETS, bucketOf, bucketRange} from '../../../functions/core/shards';
import {
  TEST_PROJECT,
  uniqueName,
  type PulledMessage,
} from '../../support/emulator-env';
import {stackAddresses, startStack, type TestStack} from '../../support/stack';
import {
  functionEnv,
  startPollProcess,
  type Answer,
  type SpawnedFunction,
} from '../../support/poll-process';
import type {Behavior} from '../../support/fake-operations-server';

const API = 'https://firestore.googleapis.com/v1';

let stack: TestStack;
let pubsub: PubSub;
let fanoutTopic: string;
const workers: SpawnedFunction[] = [];

beforeAll(async () => {
  stack = await startStack();
  pubsub = new PubSub({projectId: TEST_PROJECT});
  fanoutTopic = uniqueName('fanout');
  await pubsub.createTopic(fanoutTopic);
}, 60_000);

afterEach(async () => {
  await Promise.all(workers.splice(0).map(worker => worker.stop()));
});

afterAll(async () => {
  await pubsub?.close();
  await stack?.stop();
});

/** A shard worker: the poll function in a process of its own, configured for `shards` shards. */
async function worker(shards: number): Promise<SpawnedFunction> {
  const spawned = await startPollProcess(
    functionEnv(stackAddresses(stack), {
      POLL_SHARDS: String(shards),
      POLL_FANOUT_TOPIC: fanoutTopic,
      POLL_BUDGET_SECONDS: '4',
      // Short, so a killed worker's lease runs out soon.
      POLL_LEASE_SECONDS: '3',
      POLL_REQUEST_TIMEOUT_SECONDS: '2',
      POLL_CONCURRENCY: '8',
    }),
  );
  workers.push(spawned);
  return spawned;
}

/** `POST /` with the body `{"shard": k}`. */
function tickShard(spawned: SpawnedFunction, shard: unknown): Promise<Answer> {
  return spawned.request({
    method: 'POST',
    path: '/',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({shard}),
  });
}

/** Registers `count` operations behaving as `behavior(i)`; returns operation name by registration id. */
async function watch(
  count: number,
  behavior: (index: number) => Behavior,
): Promise<Map<string, string>> {
  const run = uniqueName('op');
  const names = new Map<string, string>();
  await Promise.all(
    Array.from({length: count}, async (_, i) => {
      const name = `projects/p/databases/(default)/operations/${run}-${i}`;
      stack.operationsApi.define(name, behavior(i));
      const response = await stack.register({operation: `${API}/${name}`});
      expect(response.status).toBe(201);
      names.set(response.body.id as string, name);
    }),
  );
  return names;
}

/**
 * How many notifications each registration got, pulling until every one of `ids` has one (or time is up);
 * `pulled` are messages pulled before.
 */
async function notifications(
  ids: Iterable<string>,
  pulled: PulledMessage[] = [],
): Promise<Map<string, number>> {
  const expected = new Set(ids);
  const messages = [
    ...pulled,
    ...(await stack.pull(expected.size - pulled.length, 30_000)),
  ];
  // A short extra pull: a second message for anyone would arrive beyond the count asked for.
  messages.push(...(await stack.pull(expected.size, 1500)));
  const counts = new Map<string, number>();
  for (const message of messages) {
    const id = message.attributes.registrationId;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

async function pendingAmong(ids: Iterable<string>): Promise<string[]> {
  const pending: string[] = [];
  for (const id of ids) {
    const snapshot = await stack.firestore
      .collection(stack.collection)
      .doc(id)
      .get();
    if (snapshot.get('state') === 'pending') pending.push(id);
  }
  return pending;
}

const shardOf = (id: string, shards: number) =>
  Array.from({length: shards}, (_, k) => k).find(k => {
    const {from, to} = bucketRange(k, shards);
    return bucketOf(id) >= from && bucketOf(id) < to;
  });

describe('buckets and shards', () => {
  it('splits the buckets into contiguous ranges that cover each exactly once, for any shard count', () => {
    for (const shards of [1, 2, 3, 7, 100, BUCKETS]) {
      const owners = new Array<number>(BUCKETS).fill(0);
      let next = 0;
      for (let k = 0; k < shards; k++) {
        const {from, to} = bucketRange(k, shards);
        expect(from).toBe(next);
        for (let b = from; b < to; b++) owners[b]++;
        next = to;
      }
      expect(next).toBe(BUCKETS);
      expect(owners.every(n => n === 1)).toBe(true);
    }
    expect(() => bucketRange(2, 2)).toThrow(RangeError);
    expect(() => bucketRange(0, BUCKETS + 1)).toThrow(RangeError);
  });
});

describe('sharded polling', () => {
  it('polls every registration in exactly one shard, the one owning its stored bucket', async () => {
    const names = await watch(30, () => ({kind: 'finish', afterMs: 0}));
    const spawned = await worker(3);
    const polledBy = new Map<string, number[]>();
    for (let shard = 0; shard < 3; shard++) {
      const before = new Map(
        [...names].map(([id, name]) => [
          id,
          stack.operationsApi.requestsFor(name).length,
        ]),
      );
      // Until a tick finds nothing due: a poll the tick's budget did not reach waits for the next tick.
      for (let tick = 0; tick < 5; tick++) {
        const answer = await tickShard(spawned, shard);
        expect(answer.status).toBe(200);
        if ((answer.body as {polled: number}).polled === 0) break;
      }
      for (const [id, name] of names) {
        if (stack.operationsApi.requestsFor(name).length > before.get(id)!)
          polledBy.set(id, [...(polledBy.get(id) ?? []), shard]);
      }
    }
    for (const id of names.keys()) {
      expect(polledBy.get(id)).toEqual([shardOf(id, 3)]);
      const stored = await stack.firestore
        .collection(stack.collection)
        .doc(id)
        .get();
      expect(stored.get('bucket')).toBe(bucketOf(id));
    }
    const counts = await notifications(names.keys());
    expect([...names.keys()].map(id => counts.get(id))).toEqual(
      [...names.keys()].map(() => 1),
    );
  });

  it('answers 400 for a shard that is not one of POLL_SHARDS, and polls nothing', async () => {
    const names = await watch(3, () => ({kind: 'finish', afterMs: 0}));
    const spawned = await worker(3);
    for (const shard of [3, -1, 1.5, 'one']) {
      const answer = await tickShard(spawned, shard);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({
        error: {code: 400, status: 'INVALID_ARGUMENT', field: 'shard'},
      });
    }
    for (const name of names.values())
      expect(stack.operationsApi.requestsFor(name)).toHaveLength(0);
    // Left for the tests after this one to finish: every shard in turn.
    for (let shard = 0; shard < 3; shard++)
      expect((await tickShard(spawned, shard)).status).toBe(200);
    await notifications(names.keys());
  });

  it('acknowledges a pushed message for a shard POLL_SHARDS no longer has, logs it, and polls nothing', async () => {
    const names = await watch(2, () => ({kind: 'finish', afterMs: 0}));
    const spawned = await worker(2);
    const answer = await spawned.request({
      method: 'POST',
      path: '/',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({
        message: {data: Buffer.from('{"shard": 2}').toString('base64')},
        subscription: 'projects/p/subscriptions/fanout-push',
      }),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      ignored: 'shard 2: must be below POLL_SHARDS (2)',
    });
    expect(spawned.text()).toContain(
      'tick message for an unknown shard acknowledged',
    );
    for (const name of names.values())
      expect(stack.operationsApi.requestsFor(name)).toHaveLength(0);
    for (let shard = 0; shard < 2; shard++)
      expect((await tickShard(spawned, shard)).status).toBe(200);
    await notifications(names.keys());
  });

  it('loses nothing when POLL_SHARDS goes from 3 to 2, with the two new shards ticking at once', async () => {
    const names = await watch(30, () => ({kind: 'never'}));
    const three = await worker(3);
    for (let shard = 0; shard < 3; shard++)
      expect((await tickShard(three, shard)).status).toBe(200);
    for (const name of names.values())
      expect(stack.operationsApi.requestsFor(name).length).toBeGreaterThan(0);
    await three.stop();

    for (const name of names.values())
      stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
    const two = await worker(2);
    // Their next polls are as far off as the forecast put them after the first: tick until none is pending.
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all([tickShard(two, 0), tickShard(two, 1)]);
      expect(answers.map(answer => answer.status)).toEqual([200, 200]);
      if ((await pendingAmong(names.keys())).length === 0) break;
    }
    const counts = await notifications(names.keys());
    expect([...names.keys()].map(id => counts.get(id))).toEqual(
      [...names.keys()].map(() => 1),
    );
    expect(await pendingAmong(names.keys())).toEqual([]);
  });

  it("takes over a killed shard worker's registrations once its lease runs out", async () => {
    const names = await watch(20, i => ({kind: 'finish', afterMs: i * 150}));
    const doomed = await worker(2);
    const survivor = await worker(2);
    const killedTick = tickShard(doomed, 0);
    const otherShard = tickShard(survivor, 1);
    // Some notifications out, the rest still to come: the tick of shard 0 is mid-way.
    const early = await stack.pull(3, 20_000);
    expect(early.length).toBeGreaterThan(0);
    await doomed.kill('SIGKILL');
    expect((await killedTick).status).toBe(0);

    // The dead worker's lease still stands: the survivor stands down, or waits for it to run out (a tick waits
    // for a holder at the end of its budget to hand over), and takes over once it has.
    expect((await tickShard(survivor, 0)).status).toBe(200);
    expect((await otherShard).status).toBe(200);
    for (let attempt = 0; attempt < 10; attempt++) {
      const pending = await pendingAmong(names.keys());
      if (pending.length === 0) break;
      await new Promise(resolve => setTimeout(resolve, 500));
      expect((await tickShard(survivor, 0)).status).toBe(200);
    }
    expect(await pendingAmong(names.keys())).toEqual([]);
    const counts = await notifications(names.keys(), early);
    // A crash may repeat a notification (published, its write lost with the process); it never loses one.
    for (const id of names.keys())
      expect(counts.get(id)).toBeGreaterThanOrEqual(1);
  });

  it('fans a Scheduler tick out over POLL_FANOUT_TOPIC, whose push subscription works each shard', async () => {
    const names = await watch(20, () => ({kind: 'finish', afterMs: 0}));
    const spawned = await worker(2);
    const [subscription] = await pubsub
      .topic(fanoutTopic)
      .createSubscription(uniqueName('fanout-push'), {
        pushConfig: {pushEndpoint: spawned.url},
        ackDeadlineSeconds: 60,
      });
    try {
      const answer = await spawned.tick();
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({fannedOut: 2});
      const counts = await notifications(names.keys());
      expect([...names.keys()].map(id => counts.get(id))).toEqual(
        [...names.keys()].map(() => 1),
      );
      for (const shard of [0, 1]) {
        expect([...names.keys()].some(id => shardOf(id, 2) === shard)).toBe(
          true,
        );
      }
    } finally {
      await subscription.delete();
    }
  });

  it('publishes nothing twice when shard ticks overlap, a shard delivered twice at once included', async () => {
    const names = await watch(20, i => ({kind: 'finish', afterMs: i * 100}));
    const first = await worker(2);
    const second = await worker(2);
    const answers = await Promise.all([
      tickShard(first, 0),
      tickShard(second, 1),
      tickShard(second, 0),
      tickShard(first, 1),
    ]);
    expect(answers.map(answer => answer.status)).toEqual([200, 200, 200, 200]);
    // Of the two calls of each shard, the one that came second found the lease held, or waited for the first to
    // hand it over: never both at once.
    for (const shard of [0, 1]) {
      const calls = [
        answers[shard === 0 ? 0 : 1],
        answers[shard === 0 ? 2 : 3],
      ];
      expect(
        calls.filter(answer => (answer.body as {leaseHeld?: boolean}).leaseHeld)
          .length,
      ).toBeLessThanOrEqual(1);
    }
    const counts = await notifications(names.keys());
    expect([...names.keys()].map(id => counts.get(id))).toEqual(
      [...names.keys()].map(() => 1),
    );
  });
});
