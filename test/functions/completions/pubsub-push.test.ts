/**
 * The sink route end to end: a LogEntry published to an audit topic on the Pub/Sub emulator, pushed by a push
 * subscription to the `completions` target running in a process of its own (the Functions Framework's main.js,
 * as Cloud Functions runs it), ends in a notification. And the one failure that must be redelivered: Firestore
 * out of reach answers 5xx, where a malformed message is acknowledged once and never comes back.
 */
import {PubSub, type Topic} from '@google-cloud/pubsub';
import {auditEntry} from '../../../scripts/lib/audit-entry';
import {freePort} from '../../../scripts/lib/ports';
import {AUDIT_LOG_WRITTEN} from '../../../functions/completions/events';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {
  SpawnedFunction,
  functionEnv,
  type StackAddresses,
} from '../../support/poll-process';
import {FAKED_SERVICES, startStack, type TestStack} from '../../support/stack';

const FIRESTORE = 'firestore.googleapis.com';

let stack: TestStack;
let completions: SpawnedFunction;
let pubsub: PubSub;
let audit: Topic;

function addresses(firestoreHost: string): StackAddresses {
  return {
    projectId: TEST_PROJECT,
    firestoreHost,
    pubsubHost: process.env.PUBSUB_EMULATOR_HOST!,
    collection: stack.collection,
    metadataHost: stack.metadata.host,
    endpointOverrides: Object.fromEntries(
      FAKED_SERVICES.map(host => [host, stack.operationsApi.baseUrl]),
    ),
  };
}

const SETTINGS = {
  POLL_LEASE_SECONDS: '2',
  POLL_REQUEST_TIMEOUT_SECONDS: '2',
  COMPLETION_POLL_BUDGET_SECONDS: '3',
};

beforeAll(async () => {
  stack = await startStack();
  completions = await SpawnedFunction.start({
    target: 'completions',
    env: functionEnv(addresses(process.env.FIRESTORE_EMULATOR_HOST!), SETTINGS),
  });
  pubsub = new PubSub({projectId: TEST_PROJECT});
  const topicName = uniqueName('audit');
  [audit] = await pubsub.createTopic(topicName);
  // The path names the topic, as the Functions Framework expects of a raw push request.
  await audit.createSubscription(`${topicName}-push`, {
    pushConfig: {
      pushEndpoint: `${completions.url}/projects/${TEST_PROJECT}/topics/${topicName}`,
    },
    retryPolicy: {minimumBackoff: {seconds: 1}, maximumBackoff: {seconds: 1}},
  });
}, 90_000);

afterAll(async () => {
  await completions?.stop();
  await pubsub?.close();
  await stack?.stop();
});

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

it('a completion entry pushed by a subscription gets a lazily polled registration notified within seconds', async () => {
  const name = `projects/demo/databases/(default)/operations/push-${Date.now()}`;
  stack.operationsApi.define(name, {kind: 'never'});
  const registered = await stack.register({
    operation: `https://${FIRESTORE}/v1/${name}`,
    pollPolicy: {initialDelay: '600s', maxDelay: '3600s'},
  });
  expect(registered.status).toBe(201);
  expect((await stack.tick()).status).toBe(200);
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});

  const sent = Date.now();
  await audit.publishMessage({json: auditEntry(FIRESTORE, name)});
  const [message] = await stack.pull(1, 8000);
  expect(Date.now() - sent).toBeLessThan(8000);
  expect(message.attributes.registrationId).toBe(registered.body.id);
  expect(message.data).toMatchObject({outcome: 'succeeded', attempts: 2});
});

it('a malformed message is acknowledged once, not redelivered', async () => {
  const marker = `not-json-${Date.now()}`;
  await audit.publishMessage({data: Buffer.from(marker)});
  await sleep(4000);
  const warnings = completions.output.filter(line =>
    line.text.includes('completion event ignored: malformed'),
  );
  expect(warnings).toHaveLength(1);
});

it('Firestore out of reach: 5xx, so Eventarc or Pub/Sub delivers the event again', async () => {
  const unreachable = await SpawnedFunction.start({
    target: 'completions',
    env: functionEnv(addresses(`127.0.0.1:${await freePort()}`), SETTINGS),
  });
  try {
    const answer = await unreachable.request({
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'firestore-down',
        'ce-source': '//cloudaudit.googleapis.com/projects/demo',
        'ce-type': AUDIT_LOG_WRITTEN,
        'content-type': 'application/json',
      },
      body: JSON.stringify(
        auditEntry(FIRESTORE, 'projects/demo/databases/(default)/operations/x'),
      ),
      timeoutMs: 20_000,
    });
    expect(answer.status).toBeGreaterThanOrEqual(500);
  } finally {
    await unreachable.stop();
  }
}, 40_000);
