/**
 * Faults belong to their cause, on the Firestore emulator with the real poller: answers that once stalled a shard
 * (their estimate lay past the year 9999, and Firestore's refusal stopped every tick), an update Firestore will
 * not store, and counts that cannot grow. Each costs its own registration (charged, retried, ended with a
 * notification), never the tick, and the registrations beside it are notified as usual.
 */
import {Firestore} from '@google-cloud/firestore';
import type {Operation} from '../../../functions/core/model';
import type {PollResult} from '../../../functions/core/policy';
import type {OperationsClient} from '../../../functions/google/operations-client';
import type {NotificationSink} from '../../../functions/notify/publisher';
import type {Poller} from '../../../functions/polling/poller';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {opaquePoller, registerOpaque} from '../../support/opaque-poller';

// As in production, the store's and the poller's BulkWriters stay open, so the client is not terminated.
const firestore = new Firestore({
  projectId: TEST_PROJECT,
  ignoreUndefinedProperties: true,
});

/** A poller whose operations answer as `answers` says (by name), publishing into `published`. */
function pollerFor(
  collection: string,
  answers: Map<string, () => PollResult>,
  published: Array<{id: string; data: Record<string, unknown>}>,
): Poller {
  const client = {
    get: async ({operation}: {operation: {name: string}}) =>
      answers.get(operation.name)!(),
  } as unknown as OperationsClient;
  const sink: NotificationSink = {
    publish: async (_topic, message) => {
      published.push({
        id: message.attributes.registrationId,
        data: JSON.parse(message.data.toString()),
      });
      return 'id';
    },
  };
  return opaquePoller(firestore, collection, {client, sink});
}

const running = (name: string, metadata: Operation['metadata']) => () =>
  ({kind: 'operation', operation: {name, done: false, metadata}}) as const;
const finished = (name: string) => () =>
  ({kind: 'operation', operation: {name, done: true, response: {}}}) as const;

/** Registers `names` in `collection`; their ids by name. */
async function registerAll(collection: string, names: string[]) {
  const ids = new Map<string, string>();
  for (const name of names)
    ids.set(
      name,
      (await registerOpaque(firestore, collection, name)).registration.id,
    );
  return ids;
}

const stored = (collection: string, id: string) =>
  firestore.collection(collection).doc(id).get();

it('the answers that stalled a shard: the tick goes on, and their estimates stay within the watch', async () => {
  const collection = uniqueName('stall');
  const hour = new Date(Date.now() - 3_600_000).toISOString();
  const answers = new Map<string, () => PollResult>([
    [
      'operations/year-1',
      running('operations/year-1', {
        progressPercent: 10,
        startTime: '0001-01-01T00:00:00Z',
      }),
    ],
    [
      'operations/1e-9',
      running('operations/1e-9', {progressPercent: 1e-9, startTime: hour}),
    ],
  ]);
  const good = Array.from({length: 5}, (_, i) => `operations/good-${i}`);
  for (const name of good) answers.set(name, finished(name));
  const ids = await registerAll(collection, [...answers.keys()]);
  const published: Array<{id: string; data: Record<string, unknown>}> = [];

  const counts = await pollerFor(collection, answers, published).tick();

  expect(counts.succeeded).toBe(good.length);
  expect(published.map(p => p.id).sort()).toEqual(
    good.map(n => ids.get(n)).sort(),
  );
  for (const name of ['operations/year-1', 'operations/1e-9']) {
    const doc = await stored(collection, ids.get(name)!);
    expect(doc.get('state')).toBe('pending');
    const deadline = doc.get('deadline').toMillis();
    expect(doc.get('estimatedDoneAt').toMillis()).toBeLessThanOrEqual(deadline);
    expect(doc.get('nextPollAt').toMillis()).toBeLessThanOrEqual(deadline);
  }
});

it('an update Firestore will not store is charged to its registration, which ends poll_error, notified', async () => {
  const collection = uniqueName('charged');
  // Stored just under Firestore's 1 MiB: the 15 KB of progress the poll keeps would take it over.
  const big = 'operations/big';
  const answers = new Map<string, () => PollResult>([
    [big, running(big, {progressPercent: 5, note: 'n'.repeat(15_000)})],
    ['operations/good', finished('operations/good')],
  ]);
  const ids = await registerAll(collection, [...answers.keys()]);
  await firestore
    .collection(collection)
    .doc(ids.get(big)!)
    .update({padding: 'p'.repeat(1_040_000)});
  const published: Array<{id: string; data: Record<string, unknown>}> = [];
  const poller = pollerFor(collection, answers, published);

  for (let tick = 0; tick < 3 && published.length < 2; tick++) {
    await expect(poller.tick()).resolves.toMatchObject({
      polled: expect.any(Number),
    });
  }

  const ending = published.find(p => p.id === ids.get(big));
  expect(ending?.data).toMatchObject({
    outcome: 'poll_error',
    pollError: {
      kind: 'invalid',
      message: expect.stringMatching(/maximum entity size/),
    },
  });
  expect(published.filter(p => p.id === ids.get(big))).toHaveLength(1);
  expect(published.map(p => p.id)).toContain(ids.get('operations/good'));
  const doc = await stored(collection, ids.get(big)!);
  expect(doc.get('state')).toBe('poll_error');
  expect(doc.get('attempts')).toBe(3);
});

it('counts that cannot grow: neither the poll nor its charge stores, and the registration ends corrupt', async () => {
  const collection = uniqueName('counts');
  const name = 'operations/at-the-limit';
  const answers = new Map([[name, running(name, {})]]);
  const ids = await registerAll(collection, [name]);
  await firestore
    .collection(collection)
    .doc(ids.get(name)!)
    .update({attempts: Number.MAX_SAFE_INTEGER});

  const counts = await pollerFor(collection, answers, []).tick();

  expect(counts.corrupt).toBe(1);
  const doc = await stored(collection, ids.get(name)!);
  expect(doc.get('state')).toBe('poll_error');
  expect(doc.get('lastError')).toMatchObject({
    kind: 'corrupt',
    message: expect.stringContaining('attempts'),
  });
});
