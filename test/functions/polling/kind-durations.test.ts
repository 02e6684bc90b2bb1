/**
 * The learned durations in Firestore (emulator): increments from concurrent finishes all count, a kind is read
 * once per cache period, and a document that opwatch did not write is ignored, never fatal.
 */
import {Firestore} from '@google-cloud/firestore';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {createLogger} from '../../../functions/log';
import {
  KIND_CACHE_MS,
  KindDurations,
} from '../../../functions/polling/kind-durations';
import {kindDocumentId, operationKind} from '../../../functions/forecast/kind';
import {MIN_HISTORY} from '../../../functions/forecast/durations';

const firestore = new Firestore({projectId: TEST_PROJECT});
const kind = operationKind('redis.googleapis.com', {
  metadata: {verb: 'create'},
})!;

afterAll(() => firestore.terminate());

function store(collection: string, lines: string[] = [], now = Date.now) {
  return new KindDurations(
    firestore,
    collection,
    createLogger(line => lines.push(line)),
    now,
  );
}

it('concurrent finishes merge: every one counts, from any instance', async () => {
  const collection = uniqueName('operations');
  const instances = [store(collection), store(collection)];
  await Promise.all(
    Array.from({length: 8}, (_, n) => instances[n % 2].learn(kind, 60_000)),
  );
  const model = await store(collection).model(kind);
  expect(model).toMatchObject({count: 8});
  expect(model!.medianMs).toBeCloseTo(60_000);
});

it('reads a kind once per cache period', async () => {
  const collection = uniqueName('operations');
  let now = 1_000_000;
  const durations = store(collection, [], () => now);
  expect(await durations.model(kind)).toBeUndefined();
  for (let n = 0; n < MIN_HISTORY; n++) await durations.learn(kind, 1000);
  expect(await durations.model(kind)).toBeUndefined();
  now += KIND_CACHE_MS;
  expect(await durations.model(kind)).toMatchObject({count: MIN_HISTORY});
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
