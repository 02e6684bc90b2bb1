/**
 * The learned durations in Firestore (emulator): increments from concurrent flushes all count, a flush writes once
 * per scope and kind, a kind is read once per cache period, and a document that opwatch did not write is ignored,
 * never fatal. Scopes keep apart, owners are balanced within one, and history decays (history.test.ts has the
 * weighing's arithmetic).
 */
import {DocumentReference, Firestore} from '@google-cloud/firestore';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {createLogger} from '../../../functions/platform/log';
import {
  FAILED_READ_RETRY_MS,
  KIND_CACHE_MS,
  KIND_FLUSH_MS,
  KindDurations,
  kindDocumentId,
} from '../../../functions/forecast/kind-durations';
import {operationKind} from '../../../functions/forecast/kind';
import {
  ERA_HALF_LIVES,
  HALF_LIFE_MS,
  eraOf,
  learnedSums,
} from '../../../functions/forecast/history';
import {durationIncrement} from '../../../functions/forecast/durations';
import {MIN_HISTORY} from '../../../functions/forecast/constants';

const firestore = new Firestore({projectId: TEST_PROJECT});
const kind = operationKind('redis.googleapis.com', {
  metadata: {verb: 'create'},
})!;
const other = operationKind('redis.googleapis.com', {
  metadata: {verb: 'delete'},
})!;

const TEAM_A = 'tenant team-a';
const TEAM_B = 'tenant team-b';
const ALICE = 'alice@a.example';

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
  for (let n = 0; n < 8; n++)
    instances[n % 2].learn(kind, TEAM_A, ALICE, 60_000);
  await Promise.all(instances.map(instance => instance.flush()));
  const model = await store(collection).model(kind, TEAM_A);
  expect(model!.count).toBeCloseTo(8);
  expect(model!.medianMs).toBeCloseTo(60_000);
});

it('a flush writes once per kind, however many finishes it holds', async () => {
  const collection = uniqueName('operations');
  const writes = jest.spyOn(DocumentReference.prototype, 'set');
  const durations = store(collection);
  for (let n = 0; n < 20; n++)
    durations.learn(n % 2 ? kind : other, TEAM_A, ALICE, 1000);
  await durations.flush();
  expect(writes).toHaveBeenCalledTimes(2);
  await durations.flush();
  expect(writes).toHaveBeenCalledTimes(2);
  const reader = store(collection);
  expect((await reader.model(kind, TEAM_A))!.count).toBeCloseTo(10);
  expect((await reader.model(other, TEAM_A))!.count).toBeCloseTo(10);
});

it(`writes by itself once what it learned is ${KIND_FLUSH_MS / 1000} s old`, async () => {
  const collection = uniqueName('operations');
  let now = 1_000_000;
  const durations = store(collection, [], () => now);
  const writes = jest.spyOn(DocumentReference.prototype, 'set');
  for (let n = 0; n < MIN_HISTORY - 1; n++)
    durations.learn(kind, TEAM_A, ALICE, 1000);
  expect(writes).not.toHaveBeenCalled();
  now += KIND_FLUSH_MS;
  durations.learn(kind, TEAM_A, ALICE, 1000);
  expect(writes).toHaveBeenCalledTimes(1);
  await durations.flush();
  const model = await store(collection, [], () => now).model(kind, TEAM_A);
  expect(model!.count).toBeCloseTo(MIN_HISTORY);
});

it('reads a kind once per cache period', async () => {
  const collection = uniqueName('operations');
  let now = 1_000_000;
  const durations = store(collection, [], () => now);
  expect(await durations.model(kind, TEAM_A)).toBeUndefined();
  for (let n = 0; n < MIN_HISTORY; n++)
    durations.learn(kind, TEAM_A, ALICE, 1000);
  await durations.flush();
  expect(await durations.model(kind, TEAM_A)).toBeUndefined();
  now += KIND_CACHE_MS;
  expect((await durations.model(kind, TEAM_A))!.count).toBeCloseTo(MIN_HISTORY);
});

it('a write that fails is dropped with a warning, never counted twice', async () => {
  const collection = uniqueName('operations');
  const lines: string[] = [];
  const now = Date.now();
  const durations = store(collection, lines, () => now);
  jest
    .spyOn(DocumentReference.prototype, 'set')
    .mockRejectedValueOnce(new Error('unavailable'));
  for (let n = 0; n < MIN_HISTORY; n++)
    durations.learn(kind, TEAM_A, ALICE, 1000);
  await durations.flush();
  expect(lines.join('\n')).toContain('learning the durations');
  durations.learn(kind, TEAM_A, ALICE, 1000);
  await durations.flush();
  expect(await store(collection).model(kind, TEAM_A)).toBeUndefined();
  const stored = await firestore
    .collection(`${collection}_kinds`)
    .doc(kindDocumentId(TEAM_A, kind))
    .get();
  const eras = Object.values(stored.get('eras') as object);
  const slots = eras.flatMap(era => Object.values(era as object));
  // One finish, the one after the failure, weighted for its era.
  expect(slots).toEqual([learnedSums(durationIncrement(1000), now)]);
});

it('a document opwatch did not write is ignored with a warning', async () => {
  const collection = uniqueName('operations');
  await firestore
    .collection(`${collection}_kinds`)
    .doc(kindDocumentId(TEAM_A, kind))
    .set({eras: {'1': {'2': {count: 'many', sumLog: null}}}});
  const lines: string[] = [];
  expect(await store(collection, lines).model(kind, TEAM_A)).toBeUndefined();
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
  expect(await kinds.model(kind, TEAM_A)).toBeUndefined();
  expect(Date.now() - began).toBeLessThan(3000);
  expect(lines.join('\n')).toContain('no answer from Firestore in 300 ms');
  // Within the retry delay the next polls take no history at once, rather than each waiting out a deadline.
  clock += FAILED_READ_RETRY_MS - 1;
  const again = Date.now();
  expect(await kinds.model(kind, TEAM_A)).toBeUndefined();
  expect(Date.now() - again).toBeLessThan(100);
  // After it, the kind is read again.
  clock += 2;
  const third = Date.now();
  expect(await kinds.model(kind, TEAM_A)).toBeUndefined();
  expect(Date.now() - third).toBeGreaterThanOrEqual(290);
});

it("a scope learns only from its own operations: another tenant's history is never read", async () => {
  const collection = uniqueName('operations');
  const durations = store(collection);
  for (let n = 0; n < MIN_HISTORY * 2; n++)
    durations.learn(kind, TEAM_B, 'bob@b.example', 600_000);
  await durations.flush();
  const reader = store(collection);
  expect((await reader.model(kind, TEAM_B))!.medianMs).toBeCloseTo(600_000);
  expect(await reader.model(kind, TEAM_A)).toBeUndefined();
});

it('within a scope, an owner who registers many operations counts no more than the others together', async () => {
  const collection = uniqueName('operations');
  const durations = store(collection);
  for (let n = 0; n < 100; n++)
    durations.learn(kind, TEAM_A, 'loud@a.example', 600_000);
  for (let n = 0; n < MIN_HISTORY; n++)
    durations.learn(kind, TEAM_A, ALICE, 6000);
  await durations.flush();
  const model = await store(collection).model(kind, TEAM_A);
  // Counted as 5 and 5: the median is the geometric middle, not the loud owner's 600 s.
  expect(model!.count).toBeCloseTo(2 * MIN_HISTORY);
  expect(model!.medianMs).toBeCloseTo(60_000, -2);
});

it('old history decays: a week later it weighs half, and too little once it is months old', async () => {
  const collection = uniqueName('operations');
  let now = Date.now();
  const durations = store(collection, [], () => now);
  for (let n = 0; n < 4 * MIN_HISTORY; n++)
    durations.learn(kind, TEAM_A, ALICE, 5000);
  await durations.flush();
  now += HALF_LIFE_MS;
  const weekLater = await store(collection, [], () => now).model(kind, TEAM_A);
  expect(weekLater!.count).toBeCloseTo(2 * MIN_HISTORY);
  expect(weekLater!.medianMs).toBeCloseTo(5000);
  now += 2 * HALF_LIFE_MS;
  expect(
    await store(collection, [], () => now).model(kind, TEAM_A),
  ).toBeUndefined();
});

it('drops eras that weigh nothing any more from the document as it learns', async () => {
  const collection = uniqueName('operations');
  let now = Date.now();
  const durations = store(collection, [], () => now);
  durations.learn(kind, TEAM_A, ALICE, 5000);
  await durations.flush();
  now += 2 * ERA_HALF_LIVES * HALF_LIFE_MS;
  durations.learn(kind, TEAM_A, ALICE, 5000);
  await durations.flush();
  const stored = await firestore
    .collection(`${collection}_kinds`)
    .doc(kindDocumentId(TEAM_A, kind))
    .get();
  expect(Object.keys(stored.get('eras') as object)).toEqual([
    String(eraOf(now)),
  ]);
});
