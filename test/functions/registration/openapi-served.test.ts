/**
 * The OpenAPI document held to the running `operations` function: every answer it gives, errors included, fits
 * the documented schema for its status; every documented path and method is served, and nothing else is (other
 * methods answer 405 with Allow, other paths 404); and the notification a finished watch publishes fits the
 * Notification and NotificationAttributes schemas.
 */
import {getTestServer} from '@google-cloud/functions-framework/testing';
import type {Server} from 'node:http';
import request from 'supertest';
import {OPENAPI_DOCUMENT} from '../../../functions/registration/openapi';
import {
  HTTP_METHODS,
  type HttpMethod,
} from '../../../functions/registration/openapi-components';
import {OpenApiValidator} from '../../support/openapi-validator';
import {startStack, type TestStack} from '../../support/stack';

const validator = new OpenApiValidator();
const API = 'https://firestore.googleapis.com/v1';

let stack: TestStack;
let server: Server;
let serial = 0;

beforeAll(async () => {
  stack = await startStack();
  server = getTestServer('operations');
});

afterAll(async () => {
  await stack.stop();
});

const operationName = () =>
  `projects/p/databases/(default)/operations/openapi-${++serial}-${Date.now()}`;

/** Sends a request and asserts its answer is documented for `template` and `method`. */
async function call(
  method: HttpMethod,
  template: string,
  url: string,
  build: (test: request.Test) => request.Test = test => test,
): Promise<request.Response> {
  const answer = await build(request(server)[method](url));
  validator.assertResponse(template, method, answer);
  return answer;
}

async function registerOne(extra: object = {}) {
  const answer = await call('post', '/operations', '/operations', test =>
    test.send({operation: `${API}/${operationName()}`, ...extra}),
  );
  expect(answer.status).toBe(201);
  return answer.body.id as string;
}

describe('answers fit the document', () => {
  it('GET /openapi.json serves the document itself', async () => {
    const answer = await call('get', '/openapi.json', '/openapi.json');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
  });

  it('POST /operations: 201 with Location, 200 again, every field of the request', async () => {
    const body = {
      service: 'firestore.googleapis.com',
      name: operationName(),
      version: 'v1',
      topic: stack.topic,
      labels: {team: 'data'},
      timeout: '3600s',
      pollPolicy: {
        initialDelay: '1s',
        multiplier: 2,
        maxDelay: '10s',
        jitter: 0,
      },
      scopes: ['https://www.googleapis.com/auth/datastore'],
    };
    validator.assertValid('RegistrationRequest', body);
    const first = await call('post', '/operations', '/operations', test =>
      test.send(body),
    );
    expect(first.status).toBe(201);
    expect(first.headers.location).toBe(`/operations/${first.body.id}`);
    const again = await call('post', '/operations', '/operations', test =>
      test.send(body),
    );
    expect(again.status).toBe(200);
  });

  it('POST /operations: 400, 413 and 415, and the framework’s own 400 for malformed JSON', async () => {
    const invalid = await call('post', '/operations', '/operations', test =>
      test.send({operation: 'http://example.com/v1/operations/x', extra: 1}),
    );
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.field).toEqual(expect.any(String));

    const tooLarge = await call('post', '/operations', '/operations', test =>
      test.send({
        operation: `${API}/${operationName()}`,
        labels: {big: 'x'.repeat(70_000)},
      }),
    );
    expect(tooLarge.status).toBe(413);

    const notJson = await call('post', '/operations', '/operations', test =>
      test.set('content-type', 'text/plain').send('operation=x'),
    );
    expect(notJson.status).toBe(415);

    const malformed = await call('post', '/operations', '/operations', test =>
      test.set('content-type', 'application/json').send('{"operation":'),
    );
    expect(malformed.status).toBe(400);
  });

  it('GET /operations: pages, a state filter, and 400 for a bad query', async () => {
    await registerOne();
    await registerOne();
    const first = await call('get', '/operations', '/operations', test =>
      test.query({pageSize: 1, state: 'pending'}),
    );
    expect(first.status).toBe(200);
    expect(first.body.registrations).toHaveLength(1);
    expect(first.body.nextPageToken).toEqual(expect.any(String));
    const second = await call('get', '/operations', '/operations', test =>
      test.query({pageSize: 1, pageToken: first.body.nextPageToken}),
    );
    expect(second.status).toBe(200);

    for (const query of [
      {pageSize: 0},
      {state: 'done'},
      {pageToken: 'nope'},
      {color: 'red'},
    ]) {
      const bad = await call('get', '/operations', '/operations', test =>
        test.query(query),
      );
      expect(bad.status).toBe(400);
    }
  });

  it('GET and DELETE /operations/{id}: 200, 204, 404; and the 201 that watches again', async () => {
    const operation = `${API}/${operationName()}`;
    const id = await registerOne({operation, labels: {k: 'v'}});
    const shown = await call('get', '/operations/{id}', `/operations/${id}`);
    expect(shown.status).toBe(200);
    const cancelled = await call(
      'delete',
      '/operations/{id}',
      `/operations/${id}`,
    );
    expect(cancelled.status).toBe(204);
    const after = await call('get', '/operations/{id}', `/operations/${id}`);
    expect(after.body.state).toBe('cancelled');
    const again = await call('post', '/operations', '/operations', test =>
      test.send({operation}),
    );
    expect(again.status).toBe(201);
    expect(again.body.previous).toMatchObject({state: 'cancelled'});

    const unknown = '0'.repeat(32);
    for (const method of ['get', 'delete'] as const) {
      const missing = await call(
        method,
        '/operations/{id}',
        `/operations/${unknown}`,
      );
      expect(missing.status).toBe(404);
    }
  });
});

describe('the routes are exactly the documented ones', () => {
  let id: string;
  let watchId: string;
  const watchBody = {
    service: 'firestore.googleapis.com',
    parent: 'projects/p/databases/routes',
  };
  beforeAll(async () => {
    id = await registerOne();
    const watch = await call('post', '/watches', '/watches', test =>
      test.send(watchBody),
    );
    expect(watch.status).toBe(201);
    watchId = watch.body.id as string;
    validator.assertValid('Watch', watch.body);
  });

  const documented = Object.entries(OPENAPI_DOCUMENT.paths).map(
    ([template, item]) =>
      [
        template,
        HTTP_METHODS.filter(method => item[method] !== undefined),
      ] as const,
  );
  const concrete = (template: string) =>
    template.replace('{id}', template.startsWith('/watches') ? watchId : id);

  it.each(documented)('%s serves %j', async (template, methods) => {
    for (const method of methods) {
      const answer = await request(server)
        [method](concrete(template))
        .send(
          method !== 'post'
            ? undefined
            : template === '/watches'
              ? watchBody
              : {operation: `${API}/${operationName()}`},
        );
      expect([method, answer.status]).not.toEqual([method, 404]);
      expect([method, answer.status]).not.toEqual([method, 405]);
    }
  });

  it.each(documented)(
    '%s answers 405 with Allow for every other method',
    async (template, methods) => {
      const others = HTTP_METHODS.filter(m => !methods.includes(m));
      expect(others.length).toBeGreaterThan(0);
      for (const method of others) {
        const answer = await request(server)[method](concrete(template));
        expect([method, answer.status]).toEqual([method, 405]);
        validator.assertValid('Error', answer.body);
        const allowed = answer.headers.allow.split(/,\s*/).sort();
        expect(allowed).toEqual(methods.map(m => m.toUpperCase()).sort());
      }
    },
  );

  it.each([
    '/',
    '/operation',
    '/operations/not-an-id',
    `/operations/${'0'.repeat(32)}/extra`,
    '/openapi.yaml',
    '/v1/operations',
  ])('%s is not served (404, Error body)', async path => {
    const answer = await request(server).get(path);
    expect(answer.status).toBe(404);
    validator.assertValid('Error', answer.body);
  });
});

describe('the notification fits the document', () => {
  it.each([
    ['succeeded', {kind: 'finish', afterMs: 0} as const],
    [
      'failed',
      {
        kind: 'fail',
        afterMs: 0,
        error: {code: 9, message: 'precondition'},
      } as const,
    ],
  ])('%s', async (outcome, behavior) => {
    const name = operationName();
    stack.operationsApi.define(name, behavior);
    const id = await registerOne({
      operation: `${API}/${name}`,
      labels: {team: 'data'},
    });
    let message;
    for (let tick = 0; tick < 5 && !message; tick++) {
      await stack.tick();
      // Earlier tests' registrations end too (as not_found): look for this one among all that arrive.
      message = (await stack.pull(20, 2000)).find(
        m => m.attributes.registrationId === id,
      );
    }
    expect(message).toBeDefined();
    expect(message!.attributes.outcome).toBe(outcome);
    validator.assertValid('Notification', message!.data);
    validator.assertValid('NotificationAttributes', message!.attributes);
    const finished = await call('get', '/operations/{id}', `/operations/${id}`);
    expect(finished.body.state).toBe(outcome);
  });
});
