/**
 * The `operations` function as deployed: the real Functions Framework serving functions/index.ts, storing in
 * the real Firestore emulator that the global setup started.
 */
import {MIN_POLL_INTERVAL_MS} from '../../../functions/core/policy';
import {Firestore} from '@google-cloud/firestore';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import type {Server} from 'node:http';
import {STATES, type PollError} from '../../../functions/core/model';
import {toDocument} from '../../../functions/core/document';
import {captureStdout} from '../../support/stdout';

const collection = `registrations-${process.pid}-${Date.now()}`;
process.env.OPERATIONS_COLLECTION = collection;
process.env.DEFAULT_TOPIC = 'opwatch-notifications';
process.env.RETENTION_DAYS = '30';
process.env.ENDPOINT_OVERRIDES = '';
// Callers' identity and the allowlists have tests of their own (owners.test.ts, tenancy.test.ts).
process.env.ALLOW_UNAUTHENTICATED = 'true';
process.env.WATCH_PROJECTS = '*';

require('../../../functions/index');

const FIRESTORE_OP =
  'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations/ABC';

let server: Server;
const firestore = new Firestore({projectId: process.env.GOOGLE_CLOUD_PROJECT});
const api = () => request(server);
const storedCount = async () =>
  (await firestore.collection(collection).count().get()).data().count;

beforeAll(() => {
  server = getTestServer('operations');
});

afterAll(async () => {
  await firestore.terminate();
});

describe('POST /operations', () => {
  it('registers an operation: 201, Location, and the normalised registration', async () => {
    const before = Date.now();
    const response = await api()
      .post('/operations')
      .send({operation: FIRESTORE_OP, labels: {team: 'data'}, timeout: '3600s'})
      .expect(201);
    const body = response.body;
    expect(body).toMatchObject({
      state: 'pending',
      operationUrl: FIRESTORE_OP,
      service: 'firestore.googleapis.com',
      name: 'projects/p/databases/(default)/operations/ABC',
      topic: 'projects/demo-opwatch/topics/opwatch-notifications',
      labels: {team: 'data'},
      timeout: '3600s',
      attempts: 0,
    });
    expect(body.id).toMatch(/^[0-9a-f]{32}$/);
    expect(response.headers.location).toBe(`/operations/${body.id}`);
    expect(Date.parse(body.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(body.deadline) - Date.parse(body.createdAt)).toBe(
      3_600_000,
    );

    const stored = await firestore.collection(collection).doc(body.id).get();
    expect(stored.get('state')).toBe('pending');
    expect(stored.get('nextPollAt').toMillis()).toBe(
      Date.parse(body.createdAt),
    );
    expect(stored.get('expireAt')).toBeUndefined();
  });

  it('answers 200 with the existing registration for the same operation and topic, in either form', async () => {
    const first = await api()
      .post('/operations')
      .send({operation: FIRESTORE_OP, topic: 'again'})
      .expect(201);
    const second = await api()
      .post('/operations')
      .send({
        service: 'firestore.googleapis.com',
        name: 'projects/p/databases/(default)/operations/ABC',
        topic: 'again',
      })
      .expect(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.createdAt).toBe(first.body.createdAt);
    expect(second.body.previous).toBeUndefined();
    const otherTopic = await api()
      .post('/operations')
      .send({operation: FIRESTORE_OP, topic: 'elsewhere'})
      .expect(201);
    expect(otherTopic.body.id).not.toBe(first.body.id);
  });

  it.each([
    [
      'malformed JSON',
      400,
      /not valid JSON/,
      () =>
        api()
          .post('/operations')
          .set('content-type', 'application/json')
          .send('{"operation": '),
    ],
    [
      'an invalid field',
      400,
      /operation: must be a \*\.googleapis\.com host/,
      () =>
        api()
          .post('/operations')
          .send({operation: 'https://evil.test/v1/operations/A'}),
    ],
    [
      'an unknown field',
      400,
      /unknown field/,
      () =>
        api()
          .post('/operations')
          .send({operation: FIRESTORE_OP, callback: 'x'}),
    ],
    [
      'an empty JSON body',
      400,
      /body|required/,
      () =>
        api()
          .post('/operations')
          .set('content-type', 'application/json')
          .send(''),
    ],
    [
      'a JSON array',
      400,
      /JSON object/,
      () => api().post('/operations').send([FIRESTORE_OP]),
    ],
    [
      'a wrong content type',
      415,
      /application\/json/,
      () =>
        api()
          .post('/operations')
          .set('content-type', 'text/plain')
          .send(FIRESTORE_OP),
    ],
    [
      'a form body',
      415,
      /application\/json/,
      () =>
        api().post('/operations').type('form').send({operation: FIRESTORE_OP}),
    ],
    [
      'a body over 64 KiB',
      413,
      /65536 bytes/,
      () =>
        api()
          .post('/operations')
          .send({operation: FIRESTORE_OP, padding: 'x'.repeat(70_000)}),
    ],
    [
      'an unsupported charset',
      415,
      /charset/,
      () =>
        api()
          .post('/operations')
          .set('content-type', 'application/json; charset=latin9')
          .send('{}'),
    ],
    [
      'an unknown method',
      405,
      /PUT is not allowed/,
      () => api().put('/operations').send({}),
    ],
    ['an unknown route', 404, /no such resource/, () => api().get('/nowhere')],
    [
      'an id that cannot exist',
      404,
      /no such resource/,
      () => api().get('/operations/..%2f..%2fsecrets'),
    ],
  ])(
    'rejects %s with a JSON %d and stores nothing',
    async (_what, status, message, send) => {
      const before = await storedCount();
      const response = await send().expect(status);
      expect(response.headers['content-type']).toMatch(/application\/json/);
      expect(response.body.error.code).toBe(status);
      expect(response.body.error.message).toMatch(message);
      expect(await storedCount()).toBe(before);
    },
  );

  it('names the field at fault', async () => {
    const response = await api()
      .post('/operations')
      .send({operation: FIRESTORE_OP, labels: {Bad: 'x'}})
      .expect(400);
    expect(response.body.error).toMatchObject({
      status: 'INVALID_ARGUMENT',
      field: 'labels.Bad',
    });
  });

  it('says which methods a resource allows', async () => {
    const response = await api()
      .patch('/operations/0123456789abcdef0123456789abcdef')
      .expect(405);
    expect(response.headers.allow).toBe('GET, DELETE');
  });
});

describe('GET /operations/{id} and DELETE', () => {
  it('shows a registration, cancels it, and a new registration starts the watch over', async () => {
    const operation =
      'https://apigateway.googleapis.com/v1/projects/p/locations/global/operations/op-1';
    const {body: created} = await api()
      .post('/operations')
      .send({operation})
      .expect(201);
    const {body: shown} = await api()
      .get(`/operations/${created.id}`)
      .expect(200);
    expect(shown).toMatchObject({
      id: created.id,
      state: 'pending',
      attempts: 0,
      nextPollAt: created.createdAt,
    });

    await api().delete(`/operations/${created.id}`).expect(204);
    const {body: cancelled} = await api()
      .get(`/operations/${created.id}`)
      .expect(200);
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.nextPollAt).toBeUndefined();
    const stored = await firestore.collection(collection).doc(created.id).get();
    expect(
      stored.get('expireAt').toMillis() - stored.get('finishedAt').toMillis(),
    ).toBe(30 * 86_400_000);

    await api().delete(`/operations/${created.id}`).expect(204);
    const {body: again} = await api()
      .post('/operations')
      .send({operation})
      .expect(201);
    expect(again).toMatchObject({
      id: created.id,
      state: 'pending',
      previous: {
        state: 'cancelled',
        attempts: 0,
        finishedAt: expect.any(String),
      },
    });
  });

  it('answers 404 for an unknown id', async () => {
    const unknown = '0'.repeat(32);
    const shown = await api().get(`/operations/${unknown}`).expect(404);
    expect(shown.body.error.status).toBe('NOT_FOUND');
    await api().delete(`/operations/${unknown}`).expect(404);
  });
});

describe('watching again an operation whose watch ended', () => {
  const ended = STATES.filter(state => state !== 'pending');
  const lastError: PollError = {kind: 'http', status: 403, message: 'HTTP 403'};

  it.each(ended)(
    'after %s: a new watch (201), with the old one in the answer and the log',
    async state => {
      const operation = `${FIRESTORE_OP}-again-${state}`;
      const {body: first} = await api()
        .post('/operations')
        .send({operation})
        .expect(201);
      const finishedAt = Date.parse(first.createdAt) + 5000;
      // What the poller writes when a watch ends.
      await firestore
        .collection(collection)
        .doc(first.id)
        .update(
          toDocument(
            {state, updatedAt: finishedAt, finishedAt, attempts: 7, lastError},
            30 * 86_400_000,
          ),
        );

      let again: request.Response | undefined;
      const lines = await captureStdout(async () => {
        again = await api().post('/operations').send({operation});
      });
      expect(again!.status).toBe(201);
      expect(again!.body).toMatchObject({
        id: first.id,
        state: 'pending',
        attempts: 0,
        nextPollAt: again!.body.createdAt,
        previous: {
          state,
          finishedAt: new Date(finishedAt).toISOString(),
          attempts: 7,
          lastError,
        },
      });
      expect(again!.body.finishedAt).toBeUndefined();
      expect(lines).toContainEqual(
        expect.objectContaining({
          severity: 'INFO',
          registrationId: first.id,
          previous: expect.objectContaining({state, attempts: 7}),
        }),
      );

      const stored = await firestore.collection(collection).doc(first.id).get();
      expect(stored.get('state')).toBe('pending');
      expect(stored.get('attempts')).toBe(0);
      expect(stored.get('expireAt')).toBeUndefined();
      expect(stored.get('lastError')).toBeUndefined();
      const {body: shown} = await api()
        .get(`/operations/${first.id}`)
        .expect(200);
      expect(shown.state).toBe('pending');

      // The new watch is pending: registering once more finds it.
      const {body: third} = await api()
        .post('/operations')
        .send({operation})
        .expect(200);
      expect(third.createdAt).toBe(again!.body.createdAt);
      expect(third.previous).toBeUndefined();
    },
  );
  it('keeps the floor between polls when the operation is registered again right after its last poll', async () => {
    const operation = `${FIRESTORE_OP}-again-at-once`;
    const {body: first} = await api()
      .post('/operations')
      .send({operation})
      .expect(201);
    const polledAt = Date.now();
    await firestore
      .collection(collection)
      .doc(first.id)
      .update(
        toDocument(
          {
            state: 'succeeded',
            updatedAt: polledAt,
            lastPolledAt: polledAt,
            finishedAt: polledAt,
          },
          30 * 86_400_000,
        ),
      );
    const {body: again} = await api()
      .post('/operations')
      .send({operation})
      .expect(201);
    expect(Date.parse(again.nextPollAt)).toBe(polledAt + MIN_POLL_INTERVAL_MS);
  });
});

describe('GET /operations', () => {
  it('pages through registrations in a state', async () => {
    const ids = new Set<string>();
    for (let n = 0; n < 5; n++) {
      const operation = `https://workspaceevents.googleapis.com/v1beta/operations/page-test/${n}`;
      const {body} = await api()
        .post('/operations')
        .send({operation, topic: 'paging'})
        .expect(201);
      ids.add(body.id);
    }
    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const {body} = await api()
        .get('/operations')
        .query({state: 'pending', pageSize: 2, ...(pageToken && {pageToken})})
        .expect(200);
      expect(body.registrations.length).toBeLessThanOrEqual(2);
      for (const registration of body.registrations) {
        expect(registration.state).toBe('pending');
        seen.push(registration.id);
      }
      pageToken = body.nextPageToken;
    } while (pageToken);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);
  });

  it.each([
    [{state: 'sleeping'}, 'state'],
    [{pageSize: 0}, 'pageSize'],
    [{pageSize: 'many'}, 'pageSize'],
    [{pageToken: 'not-a-token'}, 'pageToken'],
    [{sort: 'name'}, 'query'],
  ])('rejects %j naming %s', async (query, field) => {
    const {body} = await api().get('/operations').query(query).expect(400);
    expect(body.error.field).toBe(field);
  });
});
