/**
 * Every watch ends, and undeliverable means tried: a notification Pub/Sub keeps refusing (its topic does not
 * exist, on the real emulator) ends the watch `undeliverable` only once PUBLISH_GRACE_SECONDS has run from its
 * first refusal, with at least three refusals over at least a minute, even for a watch past its deadline; then the
 * notification goes to DEAD_LETTER_TOPIC, one error line says so, and the retries' warnings are rate-limited.
 *
 * The poller runs in this process on a clock of the test's (its sleeps move the clock), so the minute passes at
 * once; Firestore and Pub/Sub are the emulators.
 */
import {Firestore} from '@google-cloud/firestore';
import {PubSub, type Subscription} from '@google-cloud/pubsub';
import {MIN_PUBLISH_RETRY_MS} from '../../../functions/core/policy';
import {FakeOperationsServer} from '../../support/fake-operations-server';
import {OperationsClient} from '../../../functions/google/operations-client';
import {PubSubPublisher} from '../../../functions/notify/publisher';
import {createLogger} from '../../../functions/platform/log';
import {PollLease} from '../../../functions/polling/lease';
import {RegistrationStore} from '../../../functions/registration/store';
import {
  TEST_PROJECT,
  createTopicAndSubscription,
  pullMessages,
  uniqueName,
} from '../../support/emulator-env';
import {newRegistration} from '../../support/new-registration';
import {OPAQUE_SERVICE, opaquePoller} from '../../support/opaque-poller';

const firestore = new Firestore({
  projectId: TEST_PROJECT,
  ignoreUndefinedProperties: true,
});
const LEASE_MS = 120_000;

let pubsub: PubSub;
let api: FakeOperationsServer;
let deadLetters: Subscription;
let deadLetter: string;

beforeAll(async () => {
  pubsub = new PubSub({projectId: TEST_PROJECT});
  api = await FakeOperationsServer.start();
  deadLetter = `projects/${TEST_PROJECT}/topics/${uniqueName('dead-letter')}`;
  ({subscription: deadLetters} = await createTopicAndSubscription(
    pubsub,
    deadLetter.split('/').pop()!,
    `${deadLetter.split('/').pop()}-sub`,
  ));
});

afterAll(async () => {
  await api.stop();
  await pubsub.close();
});

it('a topic Pub/Sub keeps refusing: undeliverable only after three refusals over a minute from the first, dead-lettered, logged once', async () => {
  const collection = uniqueName('undeliverable');
  const name = `operations/lost-${Date.now()}`;
  api.define(name, {kind: 'finish', afterMs: 0});
  const missing = `projects/${TEST_PROJECT}/topics/${uniqueName('deleted')}`;
  let clock = Date.now();
  const now = () => clock;
  // A two-second watch: long past its deadline (and the one-second grace) when its first publish is refused.
  const {registration} = await new RegistrationStore(
    firestore,
    collection,
    86_400_000,
  ).register(
    newRegistration(OPAQUE_SERVICE, name, missing, {timeoutMs: 2000}),
    'anonymous',
    clock,
  );
  clock += 10_000;
  const lines: Array<
    {severity: string; message: string} & Record<string, unknown>
  > = [];
  const poller = opaquePoller(firestore, collection, {
    client: new OperationsClient({
      endpointOverrides: new Map([[OPAQUE_SERVICE, api.baseUrl]]),
      requestTimeoutMs: 2000,
      tokens: {accessToken: async () => 'token'},
      now,
    }),
    sink: new PubSubPublisher(pubsub, 5000),
    lease: holder =>
      new PollLease(firestore, collection, holder, LEASE_MS, now),
    leaseMs: LEASE_MS,
    publishGraceMs: 1000,
    deadLetterTopic: deadLetter,
    log: createLogger(line => lines.push(JSON.parse(line))),
    now,
    sleep: async ms => {
      clock += ms;
      await new Promise(resolve => setImmediate(resolve));
    },
  });
  const stored = () =>
    firestore.collection(collection).doc(registration.id).get();

  const states: string[] = [];
  let undeliverable = 0;
  for (
    let tick = 0;
    tick < 20 && (await stored()).get('state') === 'pending';
    tick++
  ) {
    const counts = await poller.tick();
    undeliverable += counts.undeliverable;
    states.push((await stored()).get('state'));
    // The next Scheduler call, a budget later.
    clock += 10_000;
  }

  const document = await stored();
  expect(document.get('state')).toBe('undeliverable');
  expect(undeliverable).toBe(1);
  // Tried: at least three refusals, the last at least a minute after the first.
  const refusals = document.get('publishFailures') as number;
  expect(refusals).toBeGreaterThanOrEqual(3);
  const since = document.get('publishFailingSince').toMillis();
  expect(document.get('finishedAt').toMillis() - since).toBeGreaterThanOrEqual(
    MIN_PUBLISH_RETRY_MS,
  );
  expect(since).toBeGreaterThan(registration.deadline + 1000);
  expect(states[0]).toBe('pending');
  expect(document.get('lastError')).toMatchObject({
    kind: 'publish',
    message: expect.stringContaining(`publishing to ${missing} failed`),
  });

  const [message] = await pullMessages(deadLetters, {
    count: 1,
    timeoutMs: 10_000,
  });
  expect(message.attributes).toMatchObject({
    outcome: 'succeeded',
    registrationId: registration.id,
    topic: missing,
    publishError: expect.stringContaining(`publishing to ${missing} failed`),
  });
  expect(message.data).toMatchObject({
    registrationId: registration.id,
    outcome: 'succeeded',
  });

  const mine = lines.filter(
    line =>
      line.registrationId === registration.id ||
      String(line.message).includes(missing),
  );
  const retries = mine.filter(line => line.severity === 'WARNING');
  // Every refusal before the last was retried, but the warnings are one a minute.
  expect(retries.length).toBeGreaterThanOrEqual(1);
  expect(retries.length).toBeLessThan(refusals);
  expect(mine.filter(line => line.severity === 'ERROR')).toEqual([
    expect.objectContaining({
      message: 'watch ended undeliverable',
      topic: missing,
      deadLettered: true,
    }),
  ]);
});
