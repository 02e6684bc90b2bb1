/**
 * Registrations the poller's query cannot see (a field it filters on has the wrong type) are found by the sweep,
 * on the Firestore emulator with the real poller: each is reported on the dead-letter topic with its id and why,
 * logged as an error, and ended `poll_error` (corrupt), which stops it counting against its owner's quota. The
 * registrations the query does see are left to their polls.
 */
import {FieldValue, Firestore, Timestamp} from '@google-cloud/firestore';
import {corruptReportSchema} from '../../../functions/notify/dead-letter';
import type {OperationsClient} from '../../../functions/google/operations-client';
import {createLogger} from '../../../functions/platform/log';
import {DueRegistrations} from '../../../functions/polling/due-registrations';
import {
  HiddenSweep,
  hiddenProblem,
} from '../../../functions/polling/hidden-sweep';
import type {TickContext} from '../../../functions/polling/tick-context';
import {RegistrationStore} from '../../../functions/registration/store';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {opaquePoller, registerOpaque} from '../../support/opaque-poller';

const firestore = new Firestore({
  projectId: TEST_PROJECT,
  ignoreUndefinedProperties: true,
});
const DEAD_LETTER = `projects/${TEST_PROJECT}/topics/dead-letter`;

/** Ways to hide a pending registration from the due query (or from any poll within reach). */
const HIDDEN: Record<string, Record<string, unknown>> = {
  'bucket a string': {bucket: '7'},
  'bucket out of range': {bucket: 300},
  'no bucket': {bucket: FieldValue.delete()},
  'nextPollAt a number': {nextPollAt: 1_800_000_000_000},
  'nextPollAt NaN': {nextPollAt: Number.NaN},
  'nextPollAt a map': {nextPollAt: {seconds: 1}},
  'nextPollAt in the year 9999': {
    nextPollAt: Timestamp.fromDate(new Date('9999-01-01T00:00:00Z')),
  },
  'completionKey a number': {completionKey: 42},
};

it('finds every hidden registration, reports and ends it, and leaves the rest alone', async () => {
  const collection = uniqueName('hidden');
  const ids = new Map<string, string>();
  for (const [kind, fields] of Object.entries(HIDDEN)) {
    const {registration} = await registerOpaque(
      firestore,
      collection,
      `operations/${kind.replace(/\W+/g, '-')}`,
    );
    await firestore.collection(collection).doc(registration.id).update(fields);
    ids.set(registration.id, kind);
  }
  const {registration: visible} = await registerOpaque(
    firestore,
    collection,
    'operations/visible',
  );
  const store = new RegistrationStore(firestore, collection, 86_400_000);
  expect(await store.countPending('owner', 'anonymous')).toBe(ids.size + 1);

  const reports: Array<{
    topic: string;
    attributes: Record<string, string>;
    data: unknown;
  }> = [];
  const errors: string[] = [];
  const poller = opaquePoller(firestore, collection, {
    client: {
      get: async () => ({
        kind: 'operation' as const,
        operation: {name: 'operations/visible', done: true},
      }),
    } as unknown as OperationsClient,
    sink: {
      publish: async (topic, message) => {
        if (topic !== DEAD_LETTER) return 'notification';
        reports.push({
          topic,
          attributes: message.attributes,
          data: JSON.parse(message.data.toString()),
        });
        return 'id';
      },
    },
    deadLetterTopic: DEAD_LETTER,
    log: createLogger(line => {
      if (line.includes('"ERROR"')) errors.push(line);
    }),
  });

  const counts = await poller.tick();

  expect(counts.corrupt).toBe(ids.size);
  expect(new Set(reports.map(r => r.attributes.registrationId))).toEqual(
    new Set(ids.keys()),
  );
  for (const report of reports) {
    const kind = ids.get(report.attributes.registrationId);
    expect({
      kind,
      topic: report.topic,
      deadLetter: report.attributes.deadLetter,
    }).toEqual({
      kind,
      topic: DEAD_LETTER,
      deadLetter: 'corrupt',
    });
    const data = corruptReportSchema.parse(report.data);
    // Found by the sweep; or, for a field only completion events query, met by its poll like any corrupt one.
    expect(data.problem).toMatch(
      /^(hidden from the poller|stored document unreadable): /,
    );
  }
  for (const [id, kind] of ids) {
    const stored = await firestore.collection(collection).doc(id).get();
    expect({
      kind,
      state: stored.get('state'),
      error: stored.get('lastError')?.kind,
    }).toEqual({
      kind,
      state: 'poll_error',
      error: 'corrupt',
    });
    expect(errors.some(line => line.includes(id))).toBe(true);
  }
  // The one the query sees was polled, not swept; the hidden ones no longer count against their owner.
  const polled = await firestore.collection(collection).doc(visible.id).get();
  expect(polled.get('state')).toBe('succeeded');
  expect(reports.map(r => r.attributes.registrationId)).not.toContain(
    visible.id,
  );
  expect(await store.countPending('owner', 'anonymous')).toBe(0);
});

it('names the field at fault', async () => {
  const collection = uniqueName('hidden-problem');
  const {registration} = await registerOpaque(
    firestore,
    collection,
    'operations/p',
  );
  const ref = firestore.collection(collection).doc(registration.id);
  expect(hiddenProblem((await ref.get()) as never)).toBeUndefined();
  await ref.update({nextPollAt: 'soon'});
  expect(hiddenProblem((await ref.get()) as never)).toBe(
    'nextPollAt is a string, not a timestamp, so no tick polls it',
  );
});

it('a sweep cut short by the end of its tick is taken up by the next tick, not an interval later', async () => {
  const collection = uniqueName('hidden-cut');
  const {registration} = await registerOpaque(
    firestore,
    collection,
    'operations/cut',
  );
  await firestore
    .collection(collection)
    .doc(registration.id)
    .update({nextPollAt: 'soon'});
  const sweep = new HiddenSweep(
    new DueRegistrations(firestore, collection, 86_400_000),
    Date.now,
    () => 0,
  );
  let stopped = true;
  const ended: string[] = [];
  const tick = {
    stopped: () => stopped,
    fenced: () => false,
    now: Date.now,
    counts: {corrupt: 0},
    deps: {leaseMs: 5000, log: createLogger(() => {})},
    write: async (snapshot: {id: string}) => {
      ended.push(snapshot.id);
      return {written: true};
    },
  } as unknown as TickContext;
  const shard = {from: 0, to: 256};

  await sweep.step(tick, shard);
  expect(ended).toEqual([]);
  stopped = false;
  await sweep.step(tick, shard);
  expect(ended).toEqual([registration.id]);
  // Worked once, the sweep waits its interval.
  await sweep.step(tick, shard);
  expect(ended).toEqual([registration.id]);
});
