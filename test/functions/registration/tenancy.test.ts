/**
 * What a caller may register, on the real stack: the operator's allowlists (403 PERMISSION_DENIED), the scope and
 * poll-policy bounds (400), the pending quota per owner (429) and the page bound; every refusal stores nothing.
 * Then the poll-time re-check: a registration stored under an older configuration ends `poll_error`
 * (`forbidden`) without a request to its API, and an answer that is not the registered operation ends `invalid`.
 */
import {getTestServer} from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import {
  ANONYMOUS,
  registrationId,
  type Registration,
} from '../../../functions/core/model';
import {toDocument} from '../../../functions/core/document';
import {TEST_PROJECT} from '../../support/emulator-env';
import {startStack, type TestStack} from '../../support/stack';
import {captureStdout} from '../../support/stdout';

const MAX_PENDING = 3;
const FIRESTORE_API = 'https://firestore.googleapis.com/v1';
const AUTH = 'https://www.googleapis.com/auth/';

let stack: TestStack;
let serial = 0;

beforeAll(async () => {
  stack = await startStack({
    WATCH_PROJECTS: `${TEST_PROJECT},team-b-prod`,
    DELEGATION_SUBJECTS: 'ops@corp.example,@team.example',
    MAX_PENDING_PER_OWNER: String(MAX_PENDING),
  });
});

afterAll(async () => {
  await stack.stop();
});

/** A Firestore operation name in `project`, unique to this test. */
const operationIn = (project: string) =>
  `projects/${project}/databases/(default)/operations/t-${++serial}-${Date.now()}`;

async function storedCount(): Promise<number> {
  const snapshot = await stack.firestore
    .collection(stack.collection)
    .count()
    .get();
  return snapshot.data().count;
}

describe('registration refusals store nothing', () => {
  it.each([
    [
      'a project outside WATCH_PROJECTS',
      () => ({operation: `${FIRESTORE_API}/${operationIn('someone-elses')}`}),
      'operation',
      'project someone-elses is not in WATCH_PROJECTS',
    ],
    [
      'a service outside WATCH_SERVICES (no preset, not listed)',
      () => ({
        service: 'datamigration.googleapis.com',
        name: `projects/${TEST_PROJECT}/locations/l/operations/x${++serial}`,
      }),
      'operation',
      'service datamigration.googleapis.com is not in WATCH_SERVICES',
    ],
    [
      'a topic outside ALLOWED_TOPICS',
      () => ({
        operation: `${FIRESTORE_API}/${operationIn(TEST_PROJECT)}`,
        topic: 'projects/attacker-proj/topics/exfiltrate',
      }),
      'topic',
      'topic projects/attacker-proj/topics/exfiltrate is not in ALLOWED_TOPICS',
    ],
    [
      'a subject outside DELEGATION_SUBJECTS',
      () => ({
        service: 'workspaceevents.googleapis.com',
        name: `operations/sub-${++serial}`,
        subject: 'ceo@corp.example',
        scopes: [`${AUTH}chat.messages.readonly`],
      }),
      'subject',
      'subject ceo@corp.example is not in DELEGATION_SUBJECTS',
    ],
  ])(
    '%s: 403 PERMISSION_DENIED naming it',
    async (_what, body, field, message) => {
      const before = await storedCount();

      const response = await stack.register(body());

      expect(response.status).toBe(403);
      expect(response.body.error).toMatchObject({
        code: 403,
        status: 'PERMISSION_DENIED',
        field,
      });
      expect(response.body.error.message).toContain(message);
      expect(await storedCount()).toBe(before);
    },
  );

  it('allows a listed second project and a subject of an allowed domain', async () => {
    const project = await stack.register({
      operation: `${FIRESTORE_API}/${operationIn('team-b-prod')}`,
    });
    const subject = await stack.register({
      service: 'workspaceevents.googleapis.com',
      name: `operations/ok-${++serial}`,
      subject: 'anyone@team.example',
      scopes: [`${AUTH}chat.messages.readonly`],
    });

    expect([project.status, subject.status]).toEqual([201, 201]);
    expect(project.body.owner).toBe(ANONYMOUS);
    await request(getTestServer('operations')).delete(
      `/operations/${project.body.id}`,
    );
    await request(getTestServer('operations')).delete(
      `/operations/${subject.body.id}`,
    );
  });

  it.each([
    [
      'a scope the service does not accept',
      {scopes: [`${AUTH}drive`]},
      'scopes',
      'not a scope this service accepts',
    ],
    [
      'an initial delay under 1 s',
      {pollPolicy: {initialDelay: '0.01s', maxDelay: '10s'}},
      'pollPolicy.initialDelay',
      'between 1s and',
    ],
    [
      'a maximum delay under 5 s',
      {pollPolicy: {initialDelay: '1s', maxDelay: '4s'}},
      'pollPolicy.maxDelay',
      'between 5s and',
    ],
  ])('%s: 400 naming the field', async (_what, extra, field, message) => {
    const before = await storedCount();

    const response = await stack.register({
      operation: `${FIRESTORE_API}/${operationIn(TEST_PROJECT)}`,
      ...extra,
    });

    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({
      status: 'INVALID_ARGUMENT',
      field,
    });
    expect(response.body.error.message).toContain(message);
    expect(await storedCount()).toBe(before);
  });

  it('refuses any scope but cloud-platform for a service without a preset', async () => {
    const before = await storedCount();

    const response = await stack.register({
      service: 'datamigration.googleapis.com',
      name: `projects/${TEST_PROJECT}/locations/l/operations/s${++serial}`,
      scopes: [`${AUTH}drive.readonly`],
    });

    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({field: 'scopes'});
    expect(response.body.error.message).toContain(`${AUTH}drive.readonly`);
    expect(await storedCount()).toBe(before);
  });

  it('refuses a page over 100', async () => {
    const response = await request(getTestServer('operations')).get(
      '/operations?pageSize=101',
    );
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({field: 'pageSize'});
  });
});

describe('MAX_PENDING_PER_OWNER', () => {
  it('answers 429 with a JSON error past the bound, and stores nothing more', async () => {
    const accepted = [];
    for (let i = 0; i < MAX_PENDING; i++) {
      const response = await stack.register({
        operation: `${FIRESTORE_API}/${operationIn(TEST_PROJECT)}`,
      });
      accepted.push(response.status);
    }
    const before = await storedCount();

    const refused = await stack.register({
      operation: `${FIRESTORE_API}/${operationIn(TEST_PROJECT)}`,
    });

    expect(accepted).toEqual(Array(MAX_PENDING).fill(201));
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      code: 429,
      status: 'RESOURCE_EXHAUSTED',
    });
    expect(refused.body.error.message).toContain('MAX_PENDING_PER_OWNER');
    expect(await storedCount()).toBe(before);
  });
});

describe('at every poll', () => {
  beforeAll(async () => {
    // The quota test above left pending registrations of the same owner: cancel them all.
    const operations = request(getTestServer('operations'));
    const page = await operations.get('/operations?state=pending&pageSize=100');
    for (const registration of page.body.registrations as {id: string}[])
      await operations.delete(`/operations/${registration.id}`);
  });

  it('ends a registration stored under an older configuration with poll_error "forbidden", without polling it', async () => {
    const name = operationIn('dropped-team');
    stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
    const url = `${FIRESTORE_API}/${name}`;
    const topic = `projects/${TEST_PROJECT}/topics/${stack.topic}`;
    const now = Date.now();
    const stored: Registration = {
      id: registrationId(url, topic, ANONYMOUS),
      owner: ANONYMOUS,
      operation: {
        service: 'firestore.googleapis.com',
        version: 'v1',
        name,
        url,
      },
      topic,
      labels: {},
      timeoutMs: 3_600_000,
      scopes: [`${AUTH}cloud-platform`],
      style: 'longrunning',
      state: 'pending',
      createdAt: now,
      updatedAt: now,
      deadline: now + 3_600_000,
      nextPollAt: now,
      attempts: 0,
      errorStreak: 0,
    };
    await stack.firestore
      .collection(stack.collection)
      .doc(stored.id)
      .create(toDocument(stored, 86_400_000));

    const lines = await captureStdout(() => stack.tick());

    const [message] = await stack.pull(1);
    expect(lines).toContainEqual(
      expect.objectContaining({
        audit: {
          action: 'notify',
          principal: ANONYMOUS,
          registrationId: stored.id,
          operationUrl: url,
          service: 'firestore.googleapis.com',
          topic,
          outcome: 'poll_error',
          lagMs: expect.any(Number),
        },
      }),
    );
    expect(message.data).toMatchObject({
      registrationId: stored.id,
      outcome: 'poll_error',
      pollError: {
        kind: 'forbidden',
        message: 'project dropped-team is not in WATCH_PROJECTS',
      },
    });
    const after = await stack.firestore
      .collection(stack.collection)
      .doc(stored.id)
      .get();
    expect(after.get('state')).toBe('poll_error');
    expect(after.get('lastError.kind')).toBe('forbidden');
    expect(stack.operationsApi.requestsFor(name)).toEqual([]);
  });

  it('ends as "invalid" when the answer is neither the registered operation nor has a boolean done', async () => {
    const name = operationIn(TEST_PROJECT);
    stack.operationsApi.define(name, {
      kind: 'status',
      status: 200,
      body: {name: 'projects/x/secrets/y', payload: 'not an operation'},
    });
    const registered = await stack.register({
      operation: `${FIRESTORE_API}/${name}`,
    });
    expect(registered.status).toBe(201);

    await stack.tick();

    const [message] = await stack.pull(1);
    expect(message.data).toMatchObject({
      registrationId: registered.body.id,
      outcome: 'poll_error',
      pollError: {
        kind: 'invalid',
        message: expect.stringMatching(/^HTTP 200 but not an Operation/),
      },
    });
  });
});
