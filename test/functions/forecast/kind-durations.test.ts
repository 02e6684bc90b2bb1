/**
 * The learned durations in Firestore (emulator): increments from concurrent flushes all count, a flush writes once
 * per kind, a kind is read once per cache period, and a document that opwatch did not write is ignored, never
 * fatal.
 */
import {DocumentReference, Firestore} from '@google-cloud/firestore';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {createLogger} from '../../../functions/platform/log';
import {
  FAILED_READ_RETRY_MS,
  KIND_CACHE_MS,
  KIND_FLUSH_MS,
  KindDurations,
} from '../../../functions/forecast/kind-durations';
import {kindDocumentId, operationKind} from '../../../functions/forecast/kind';
import {MIN_HISTORY} from '../../../functions/forecast/durations';

const firestore = new Firestore({projectId: TEST_PROJECT});
const kind = operationKind('redis.googleapis.com', {
  metadata: {verb: 'create'},
})!;
const other = operationKind('redis.googleapis.com', {
  metadata: {verb: 'delete'},
})!;

afterAll(() => firestore.terminate());
afterEach(() => jest.restoreAllMocks());

function store(collection: string, lines: string[] = [], now = Date.now) {
  return new KindDurations(
    firestore,
    collection,
    createLogger(line => lines.push(line)),
    now,
  );
}

it('concurrent flushes merge: every finish counts, from any instance', async () => {
  const collection = uniqueName('operations');
  const instances = [store(collection), store(collection)];
  for (let n = 0; n < 8; n++) instances[n % 2].learn(kind, 60_000);
  await Promise.all(instances.map(instance => instance.flush()));
  const model = await store(collection).model(kind);
  expect(model).toMatchObject({count: 8});
  expect(model!.medianMs).toBeCloseTo(60_000);
});

it('a flush writes once per kind, however many finishes it holds', async () => {
  const collection = uniqueName('operations');
  const writes = jest.spyOn(DocumentReference.prototype, 'set');
  const durations = store(collection);
  for (let n = 0; n < 20; n++) durations.learn(n % 2 ? kind : other, 1000);
  await durations.flush();
  expect(writes).toHaveBeenCalledTimes(2);
  await durations.flush();
  expect(writes).toHaveBeenCalledTimes(2);
  const reader = store(collection);
  expect(await reader.model(kind)).toMatchObject({count: 10});
  expect(await reader.model(other)).toMatchObject({count: 10});
});

it(`writes by itself once what it learned is ${KIND_FLUSH_MS / 1000} s old`, async () => {
  const collection = uniqueName('operations');
  let now = 1_000_000;
  const durations = store(collection, [], () => now);
  const writes = jest.spyOn(DocumentReference.prototype, 'set');
  for (let n = 0; n < MIN_HISTORY - 1; n++) durations.learn(kind, 1000);
  expect(writes).not.toHaveBeenCalled();
  now += KIND_FLUSH_MS;
  durations.learn(kind, 1000);
  expect(writes).toHaveBeenCalledTimes(1);
  await durations.flush();
  expect(await store(collection).model(kind)).toMatchObject({
    count: MIN_HISTORY,
  });
});

it('reads a kind once per cache period', async () => {
  const collection = uniqueName('operations');
  let now = 1_000_000;
  const durations = store(collection, [], () => now);
  expect(await durations.model(kind)).toBeUndefined();
  for (let n = 0; n < MIN_HISTORY; n++) durations.learn(kind, 1000);
  await durations.flush();
  expect(await durations.model(kind)).toBeUndefined();
  now += KIND_CACHE_MS;
  expect(await durations.model(kind)).toMatchObject({count: MIN_HISTORY});
});

it('a write that fails is dropped with a warning, never counted twice', async () => {
  const collection = uniqueName('operations');
  const lines: string[] = [];
  const durations = store(collection, lines);
  jest
    .spyOn(DocumentReference.prototype, 'set')
    .mockRejectedValueOnce(new Error('unavailable'));
  for (let n = 0; n < MIN_HISTORY; n++) durations.learn(kind, 1000);
  await durations.flush();
  expect(lines.join('\n')).toContain('learning the durations');
  durations.learn(kind, 1000);
  await durations.flush();
  expect(await store(collection).model(kind)).toBeUndefined();
  expect(
    (
      await firestore
        .collection(`${collection}_kinds`)
        .doc(kindDocumentId(kind))
        .get()
    ).get('count'),
  ).toBe(1);
});

it('a document opwatch did not write is ignored with a warning', async () => {
  const collection = uniqueName('operations');
  await firestore
    .collection(`${collection}_kinds`)
    .doc(kindDocumentId(kind))
    .set({count: 'many', sumLog: null});
  const lines: string[] = [];
  expect(await store(collection, lines).model(kind)).toBeUndefined();
  expect(lines.join('\n')).toContain('ignoring the learned durations');
});

it('a read Firestore does not answer: no history within the deadline, and no wait again for a while', async () => {
  // Reads that never settle, as the client's do while Firestore is away (it retries silently).
  const unanswered = {
    collection: () => ({doc: () => ({get: () => new Promise(() => {})})}),
  } as unknown as Firestore;
  const lines: string[] = [];
  let clock = Date.now();
  const kinds = new KindDurations(
    unanswered,
    uniqueName('operations'),
    createLogger(line => lines.push(line)),
    () => clock,
    300,
  );
  const began = Date.now();
  expect(await kinds.model(kind)).toBeUndefined();
  expect(Date.now() - began).toBeLessThan(3000);
  expect(lines.join('\n')).toContain('no answer from Firestore in 300 ms');
  // Within the retry delay the next polls take no history at once, rather than each waiting out a deadline.
  clock += FAILED_READ_RETRY_MS - 1;
  const again = Date.now();
  expect(await kinds.model(kind)).toBeUndefined();
  expect(Date.now() - again).toBeLessThan(100);
  // After it, the kind is read again.
  clock += 2;
  const third = Date.now();
  expect(await kinds.model(kind)).toBeUndefined();
  expect(Date.now() - third).toBeGreaterThanOrEqual(290);
});
