/**
 * Pub/Sub down for 30 s mid-run (10 s in the quick profile, see profile.ts): the suite's own Pub/Sub emulator (other suites keep the global one) is stopped
 * and started again on the same port while a Scheduler stand-in keeps ticking the poll process.
 *
 * "0 lost" precisely: every registration gets a message delivered to the subscriber, and no registration
 * leaves `pending` unless its message was accepted, so none can end without a message. The emulator forgets
 * everything when it stops, which is not opwatch's doing, so it must hold nothing undelivered then, and after
 * the restart the topic and subscription must exist again before anything is published (a message published to
 * a topic without a subscription is dropped by design). The poll process therefore reaches the emulator through
 * a TCP proxy: cut first (Pub/Sub is down for the poller from then on), every accepted message pulled, the
 * emulator stopped; started again after the outage, topic and subscription made, then the proxy restored.
 *
 * While Pub/Sub is down, the set of finished registrations in Firestore must not grow, although operations
 * keep finishing: they stay pending until their message is accepted.
 */
import {PubSub} from '@google-cloud/pubsub';
import {startPubSubEmulator, type Emulator} from '../../scripts/lib/emulators';
import {
  TEST_PROJECT,
  createTopicAndSubscription,
} from '../support/emulator-env';
import {startStack, type TestStack} from '../support/stack';
import {startPollProcess, type SpawnedFunction} from '../support/poll-process';
import {
  Collector,
  Driver,
  account,
  idsInState,
  printFigures,
  registerMany,
  seededRandom,
  sleep,
  stackEnv,
  stateCounts,
  tickSummary,
  type Received,
} from './harness';
import {byProfile} from './profile';
import {TcpProxy} from './tcp-proxy';

const OPERATIONS = byProfile({quick: 150, full: 300});
const DURATION_MS = byProfile({quick: 25_000, full: 60_000});
const OUTAGE_MS = byProfile({quick: 10_000, full: 30_000});
/** How long the run goes on normally before Pub/Sub goes away. */
const BEFORE_OUTAGE_MS = byProfile({quick: 8_000, full: 15_000});

let emulator: Emulator;
let proxy: TcpProxy;
let stack: TestStack;
let poller: SpawnedFunction;
const globalPubSub = process.env.PUBSUB_EMULATOR_HOST;

beforeAll(async () => {
  emulator = await startPubSubEmulator({projectId: TEST_PROJECT});
  // The stack's clients (topic, subscription, pulls) read the variable when they are made.
  process.env.PUBSUB_EMULATOR_HOST = emulator.host;
  stack = await startStack();
  proxy = await TcpProxy.start(emulator.host);
  poller = await startPollProcess(
    stackEnv(
      stack,
      {
        POLL_BUDGET_SECONDS: '10',
        POLL_LEASE_SECONDS: '3',
        POLL_REQUEST_TIMEOUT_SECONDS: '2',
      },
      {pubsubHost: proxy.host},
    ),
  );
});

afterAll(async () => {
  await poller?.stop();
  await stack?.stop();
  await proxy?.stop();
  await emulator?.stop();
  process.env.PUBSUB_EMULATOR_HOST = globalPubSub;
});

/** Ids of registrations no longer pending. */
async function finished(): Promise<Set<string>> {
  const pending = await idsInState(
    stack.firestore,
    stack.collection,
    'pending',
  );
  const all = await stack.firestore.collection(stack.collection).select().get();
  return new Set(all.docs.map(d => d.id).filter(id => !pending.has(id)));
}

it(`Pub/Sub away for ${OUTAGE_MS / 1000} s: registrations stay pending until their message is accepted, 0 lost`, async () => {
  const random = seededRandom(503);
  const began = Date.now();
  const watched = await registerMany(stack, OPERATIONS, () => ({
    kind: 'finish',
    afterMs: Math.floor(random() * DURATION_MS),
  }));
  const received: Received[] = [];
  let collector = await new Collector(stack.subscription.name, {
    received,
  }).start(stack.subscription);
  const driver = new Driver(poller, {tickTimeoutMs: 120_000}).start();
  await sleep(BEFORE_OUTAGE_MS);

  // Pub/Sub goes away for the poller. What it had accepted by then is pulled before the emulator stops; a write
  // for a message accepted just before the cut may land a moment later, hence the settling.
  await proxy.cut('refuse');
  const cutAt = Date.now();
  await collector.settle(3000);
  const finishedAtStop = await finished();
  const drained = await collector.waitFor(finishedAtStop, 30_000);
  await collector.settle(2000);
  await collector.stop();
  await emulator.stop();

  // Down: finished registrations do not grow, while finished operations pile up pending.
  let grewWhileDown = 0;
  let heldPending = 0;
  while (Date.now() - cutAt < OUTAGE_MS) {
    await sleep(2000);
    const now = await finished();
    grewWhileDown = Math.max(grewWhileDown, now.size - finishedAtStop.size);
    const doneButPending = watched.filter(
      w => w.doneAt < Date.now() - 5000 && !now.has(w.id),
    ).length;
    heldPending = Math.max(heldPending, doneButPending);
  }

  // Back: same port, empty; the topic and subscription exist again before the poller can publish.
  await emulator.start();
  const pubsub = new PubSub({projectId: TEST_PROJECT});
  const {subscription} = await createTopicAndSubscription(
    pubsub,
    stack.topic,
    `${stack.topic}-sub`,
  );
  collector = await new Collector(subscription.name, {received}).start(
    subscription,
  );
  await proxy.restore();
  const restoredAt = Date.now();
  // Ticks under way at some point of the outage.
  const ticksWhileDown = driver.ticks.filter(
    t => t.startedAt < restoredAt && t.startedAt + t.durationMs > cutAt,
  );

  const allNotified = await collector.waitFor(
    watched.map(w => w.id),
    120_000,
  );
  await driver.stop();
  await collector.settle();
  await collector.stop();
  await pubsub.close();

  const result = account(watched, collector);
  const firstAfterRestart = received.find(r => r.at >= restoredAt);
  const publishFailures = poller.output.filter(line =>
    line.text.includes('publishing to'),
  ).length;
  printFigures('pubsub-down', {
    operations: OPERATIONS,
    outageMs: restoredAt - cutAt,
    finishedAtStop: finishedAtStop.size,
    drainedBeforeStop: drained,
    finishedGrewWhileDown: grewWhileDown,
    heldPendingWhileDown: heldPending,
    ticksWhileDown: ticksWhileDown.length,
    tickStatusesWhileDown: [...new Set(ticksWhileDown.map(t => t.status))],
    longestTickMs: Math.max(...driver.ticks.map(t => t.durationMs)),
    publishFailuresLogged: publishFailures,
    firstMessageAfterRestoreMs: firstAfterRestart
      ? firstAfterRestart.at - restoredAt
      : null,
    lost: result.lost.length,
    duplicates: result.duplicates,
    ...tickSummary(driver.ticks),
    runMs: Date.now() - began,
  });

  expect(drained).toBe(true);
  expect(grewWhileDown).toBe(0);
  expect(heldPending).toBeGreaterThan(0);
  expect(allNotified).toBe(true);
  expect(result.lost).toEqual([]);
  expect(result.strangers).toBe(0);
  expect(await stateCounts(stack.firestore, stack.collection)).toEqual({
    succeeded: OPERATIONS,
  });
  // Pub/Sub away is no reason to fail a tick: each registration waits for its own message.
  expect(ticksWhileDown.length).toBeGreaterThan(0);
  for (const tick of driver.ticks) expect(tick.status).toBe(200);
  expect(poller.unexpectedExits).toEqual([]);
});
