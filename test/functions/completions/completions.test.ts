/**
 * The `completions` target on the real Functions Framework, the Firestore and Pub/Sub emulators, with Eventarc's
 * audit-log events (binary content mode) and Pub/Sub-shaped events: a completion entry gets a registration polled
 * and notified at once, however lazy its own policy; anything else (oversized fields included) changes nothing and
 * is acknowledged; a burst of events makes a registration due once.
 */
import type {Timestamp} from '@google-cloud/firestore';
import {auditEntry} from '../../../scripts/lib/audit-entry';
import {
  AUDIT_LOG_WRITTEN,
  EVENT_FIELD_LIMITS,
  PUBSUB_MESSAGE_PUBLISHED,
} from '../../../functions/completions/events';
import {startStack, type TestStack} from '../../support/stack';

const FIRESTORE = 'firestore.googleapis.com';
const COMPUTE = 'compute.googleapis.com';
/** A policy that would not poll again for ten minutes. */
const LAZY = {initialDelay: '600s', multiplier: 2, maxDelay: '3600s'};

let stack: TestStack;
let run = 0;

beforeAll(async () => {
  stack = await startStack({COMPLETION_POLL_BUDGET_SECONDS: '3'});
}, 30_000);

afterAll(() => stack?.stop());

function firestoreName(): string {
  return `projects/demo/databases/(default)/operations/evt-${Date.now()}-${run++}`;
}

/** Registers `name`, and polls it once so it waits on its own policy. */
async function registerAndPollOnce(
  service: string,
  version: string,
  name: string,
): Promise<string> {
  const response = await stack.register({
    operation: `https://${service}/${version}/${name}`,
    pollPolicy: LAZY,
  });
  expect(response.status).toBe(201);
  expect((await stack.tick()).status).toBe(200);
  const stored = await document(response.body.id as string);
  expect(stored.attempts).toBe(1);
  expect(stored.nextPollAt.toMillis()).toBeGreaterThan(Date.now() + 60_000);
  return response.body.id as string;
}

async function document(id: string) {
  const snapshot = await stack.firestore
    .collection(stack.collection)
    .doc(id)
    .get();
  return {
    state: snapshot.get('state') as string,
    attempts: snapshot.get('attempts') as number,
    nextPollAt: snapshot.get('nextPollAt') as Timestamp,
    updateTime: snapshot.updateTime!.valueOf(),
  };
}

/** Every document's update time: what "nothing written" compares. */
async function versions(): Promise<Record<string, string>> {
  const {docs} = await stack.firestore.collection(stack.collection).get();
  return Object.fromEntries(docs.map(d => [d.id, d.updateTime.valueOf()]));
}

function pubsubEvent(payload: string | object) {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return {
    message: {
      data: Buffer.from(text).toString('base64'),
      messageId: '1',
      publishTime: new Date().toISOString(),
    },
    subscription: 'projects/demo/subscriptions/audit',
  };
}

it('Eventarc audit-log event: a registration that would not poll for ten minutes is notified within seconds', async () => {
  const name = firestoreName();
  stack.operationsApi.define(name, {kind: 'never'});
  const id = await registerAndPollOnce(FIRESTORE, 'v1', name);
  stack.operationsApi.define(name, {
    kind: 'finish',
    afterMs: 0,
    response: {outputUriPrefix: 'gs://b/export'},
  });

  const sent = Date.now();
  const answer = await stack.event(
    AUDIT_LOG_WRITTEN,
    auditEntry(FIRESTORE, name),
  );
  expect(answer.status).toBe(204);
  const [message] = await stack.pull(1, 5000);
  expect(Date.now() - sent).toBeLessThan(5000);
  expect(message.attributes.registrationId).toBe(id);
  expect(message.data).toMatchObject({
    outcome: 'succeeded',
    attempts: 2,
    operation: {done: true, response: {outputUriPrefix: 'gs://b/export'}},
  });
  expect((await document(id)).state).toBe('succeeded');
});

it('Pub/Sub-shaped event (a sink message, base64 LogEntry) has the same effect', async () => {
  const name = firestoreName();
  stack.operationsApi.define(name, {kind: 'never'});
  const id = await registerAndPollOnce(FIRESTORE, 'v1', name);
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});

  const answer = await stack.event(
    PUBSUB_MESSAGE_PUBLISHED,
    pubsubEvent(auditEntry(FIRESTORE, name)),
  );
  expect(answer.status).toBe(204);
  const [message] = await stack.pull(1, 5000);
  expect(message.attributes.registrationId).toBe(id);
  expect((await document(id)).state).toBe('succeeded');
});

it('Compute short ids match by project and zone, and no other zone', async () => {
  const run = Date.now();
  const name = `projects/demo-p/zones/us-central1-a/operations/operation-${run}`;
  const twin = `projects/demo-p/zones/europe-west1-b/operations/operation-${run}`;
  const running = {kind: 'status', status: 200, body: {status: 'RUNNING'}};
  stack.operationsApi.define(name, running as never);
  stack.operationsApi.define(twin, running as never);
  const id = await registerAndPollOnce(COMPUTE, 'compute/v1', name);
  const twinId = await registerAndPollOnce(COMPUTE, 'compute/v1', twin);
  const twinBefore = await document(twinId);
  stack.operationsApi.define(name, {
    kind: 'status',
    status: 200,
    body: {name, status: 'DONE'},
  });

  const entry = auditEntry(COMPUTE, name);
  expect(entry.operation.id).toBe(`operation-${run}`);
  expect((await stack.event(AUDIT_LOG_WRITTEN, entry)).status).toBe(204);
  const [message] = await stack.pull(1, 5000);
  expect(message.attributes.registrationId).toBe(id);
  expect((await document(id)).state).toBe('succeeded');
  expect(await document(twinId)).toEqual(twinBefore);
});

describe('input that must change nothing, acknowledged so nothing redelivers it', () => {
  let id: string;
  let name: string;

  beforeAll(async () => {
    name = firestoreName();
    stack.operationsApi.define(name, {kind: 'never'});
    id = await registerAndPollOnce(FIRESTORE, 'v1', name);
  });

  const cases: [string, string, () => unknown][] = [
    [
      'an operation no one registered',
      AUDIT_LOG_WRITTEN,
      () => auditEntry(FIRESTORE, firestoreName()),
    ],
    [
      'a service no preset reads',
      AUDIT_LOG_WRITTEN,
      () => ({
        ...auditEntry(FIRESTORE, name),
        protoPayload: {serviceName: 'storage.googleapis.com'},
      }),
    ],
    [
      'the first entry of the operation',
      AUDIT_LOG_WRITTEN,
      () => auditEntry(FIRESTORE, name, {first: true}),
    ],
    [
      'an entry without operation',
      AUDIT_LOG_WRITTEN,
      () => ({protoPayload: {serviceName: FIRESTORE}}),
    ],
    [
      'a wrong event type',
      'google.cloud.storage.object.v1.finalized',
      () => auditEntry(FIRESTORE, name),
    ],
    [
      'bad base64',
      PUBSUB_MESSAGE_PUBLISHED,
      () => ({message: {data: '!!not base64!!', messageId: '1'}}),
    ],
    [
      'base64 that is not JSON',
      PUBSUB_MESSAGE_PUBLISHED,
      () => pubsubEvent('not json {'),
    ],
    [
      `an operation id over ${EVENT_FIELD_LIMITS.id} characters`,
      AUDIT_LOG_WRITTEN,
      () => {
        const entry = auditEntry(FIRESTORE, name);
        const id = `${name}/${'x'.repeat(EVENT_FIELD_LIMITS.id)}`;
        return {...entry, operation: {...entry.operation, id}};
      },
    ],
    [
      `more than ${EVENT_FIELD_LIMITS.labels} resource labels`,
      AUDIT_LOG_WRITTEN,
      () => ({
        ...auditEntry(FIRESTORE, name),
        resource: {
          type: 'audited_resource',
          labels: Object.fromEntries(
            Array.from({length: EVENT_FIELD_LIMITS.labels + 1}, (_, n) => [
              `label_${n}`,
              'v',
            ]),
          ),
        },
      }),
    ],
    [
      'a Compute short id without project',
      AUDIT_LOG_WRITTEN,
      () => ({
        ...auditEntry(
          COMPUTE,
          'projects/demo-p/zones/z/operations/operation-1',
        ),
        resource: {type: 'gce_instance', labels: {zone: 'z'}},
      }),
    ],
  ];

  it.each(cases)('%s', async (_, type, data) => {
    const before = await versions();
    expect((await stack.event(type, data())).status).toBe(204);
    expect(await versions()).toEqual(before);
    expect((await document(id)).state).toBe('pending');
  });
});

it('duplicate and late events change nothing and publish nothing again', async () => {
  const name = firestoreName();
  stack.operationsApi.define(name, {kind: 'never'});
  const id = await registerAndPollOnce(FIRESTORE, 'v1', name);
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
  const entry = auditEntry(FIRESTORE, name);
  expect((await stack.event(AUDIT_LOG_WRITTEN, entry)).status).toBe(204);
  expect(await stack.pull(1, 5000)).toHaveLength(1);
  const finished = await versions();
  expect(finished[id]).toBeDefined();

  // The same event redelivered, and a late copy from the other route.
  expect((await stack.event(AUDIT_LOG_WRITTEN, entry)).status).toBe(204);
  expect(
    (await stack.event(PUBSUB_MESSAGE_PUBLISHED, pubsubEvent(entry))).status,
  ).toBe(204);
  expect(await versions()).toEqual(finished);
  expect(await stack.pull(1, 1500)).toHaveLength(0);
});

it('a registration of the operation stored with a nextPollAt that is no time: the event is acknowledged, the rest notified', async () => {
  const name = firestoreName();
  stack.operationsApi.define(name, {kind: 'never'});
  const id = await registerAndPollOnce(FIRESTORE, 'v1', name);
  // The same operation for another topic, then broken: the lookup finds it beside the first.
  const twin = await stack.register({
    operation: `https://${FIRESTORE}/v1/${name}`,
    topic: `${stack.topic}-twin`,
  });
  expect(twin.status).toBe(201);
  await stack.firestore
    .collection(stack.collection)
    .doc(twin.body.id)
    .update({nextPollAt: 'soon'});
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});

  const answer = await stack.event(
    AUDIT_LOG_WRITTEN,
    auditEntry(FIRESTORE, name),
  );

  expect(answer.status).toBe(204);
  const [message] = await stack.pull(1, 5000);
  expect(message.attributes.registrationId).toBe(id);
});

it('a burst of events makes a running operation due once: one poll, not one per event', async () => {
  const name = firestoreName();
  stack.operationsApi.define(name, {kind: 'never'});
  const id = await registerAndPollOnce(FIRESTORE, 'v1', name);
  const entry = auditEntry(FIRESTORE, name);

  const answers = await Promise.all(
    Array.from({length: 6}, () => stack.event(AUDIT_LOG_WRITTEN, entry)),
  );
  expect(answers.map(answer => answer.status)).toEqual(Array(6).fill(204));
  const after = await document(id);
  expect(after.state).toBe('pending');
  // Polled at registration's tick, then once for the whole burst.
  expect(after.attempts).toBe(2);
  expect(stack.operationsApi.requestsFor(name)).toHaveLength(2);
});

it('an operation under a watched parent, with no registration yet, is listed and notified at once', async () => {
  const parent = `projects/demo/databases/watched-${run++}`;
  const created = await stack.watch({service: FIRESTORE, parent});
  expect(created.status).toBe(201);
  // The first list: a baseline of nothing, the next one not before LIST_INTERVAL_SECONDS (30 s).
  expect((await stack.tick()).body.listed).toBe(1);
  const name = `${parent}/operations/started-later`;
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});

  const sent = Date.now();
  const answer = await stack.event(
    AUDIT_LOG_WRITTEN,
    auditEntry(FIRESTORE, name),
  );
  expect(answer.status).toBe(204);
  const [message] = await stack.pull(1, 5000);
  expect(Date.now() - sent).toBeLessThan(5000);
  expect(message.attributes).toMatchObject({
    operationName: name,
    watchId: created.body.id,
    outcome: 'succeeded',
  });
  // Found done by the list: notified from its entry, no operations.get spent.
  expect(stack.operationsApi.requestsFor(name)).toHaveLength(0);
});
