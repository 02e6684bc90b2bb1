/**
 * The OpenAPI document against the code that produces what it describes: the API view of a registration, the
 * error bodies, the notification message, and the request validation. Answers of the running function are checked
 * in test/functions/registration/openapi-served.test.ts.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import express from 'express';
import request from 'supertest';
import {errorBody} from '../../../functions/http/responses';
import {loadRegistrationConfig} from '../../../functions/config';
import {createLogger} from '../../../functions/log';
import {STATES, type Registration} from '../../../functions/model';
import {buildNotification} from '../../../functions/notify/notification';
import {
  HTTP_METHODS,
  OPENAPI_DOCUMENT,
} from '../../../functions/registration/openapi';
import {
  createRegistrationHandler,
  toApiView,
} from '../../../functions/registration/api';
import type {RegistrationStore} from '../../../functions/registration/store';
import {validateRegistration} from '../../../functions/registration/validation';
import {OpenApiValidator} from '../../support/openapi-validator';

const validator = new OpenApiValidator();
const AUTH = 'https://www.googleapis.com/auth/';
const FIRESTORE_OP =
  'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations/ABC';
const context = {
  projectId: 'demo-opwatch',
  defaultTopic: 'projects/demo-opwatch/topics/opwatch-notifications',
  endpointOverrides: new Map<string, string>(),
};

function registration(overrides: Partial<Registration> = {}): Registration {
  const t = Date.parse('2025-01-02T03:04:05.678Z');
  return {
    id: '0123456789abcdef0123456789abcdef',
    owner: 'a@example.com',
    state: 'pending',
    operation: {
      service: 'firestore.googleapis.com',
      version: 'v1',
      name: 'projects/p/databases/(default)/operations/ABC',
      url: FIRESTORE_OP,
    },
    topic: 'projects/demo-opwatch/topics/opwatch-notifications',
    labels: {team: 'data'},
    timeoutMs: 3_600_000,
    scopes: [`${AUTH}cloud-platform`],
    style: 'longrunning',
    createdAt: t,
    updatedAt: t,
    deadline: t + 3_600_000,
    nextPollAt: t,
    attempts: 0,
    errorStreak: 0,
    ...overrides,
  };
}

/** Every `$ref` in `value`. */
function refs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refs);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$ref' && typeof inner === 'string' ? [inner] : refs(inner),
  );
}

describe('the document', () => {
  it('is OpenAPI 3.1 whose every $ref resolves', () => {
    expect(OPENAPI_DOCUMENT.openapi).toBe('3.1.0');
    const all = refs(OPENAPI_DOCUMENT);
    expect(all.length).toBeGreaterThan(20);
    for (const target of all) {
      const [, section, name] =
        /^#\/components\/(schemas|responses)\/(\w+)$/.exec(target) ?? [];
      expect([target, section && name]).toEqual([target, expect.any(String)]);
      const components = OPENAPI_DOCUMENT.components as unknown as Record<
        string,
        Record<string, unknown>
      >;
      expect(components[section][name]).toBeDefined();
    }
  });

  it('compiles every schema under a strict JSON Schema 2020-12 validator', () => {
    expect(() => validator.compileAll()).not.toThrow();
  });

  it('lists the states of the code, and unique operation ids', () => {
    expect(OPENAPI_DOCUMENT.components.schemas.State.enum).toEqual(STATES);
    const ids = Object.values(OPENAPI_DOCUMENT.paths).flatMap(item =>
      HTTP_METHODS.flatMap(method =>
        item[method] ? [item[method].operationId] : [],
      ),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([
      'cancel',
      'get',
      'list',
      'openapi',
      'register',
    ]);
  });

  it('every operation documents its default (error) answer', () => {
    for (const item of Object.values(OPENAPI_DOCUMENT.paths)) {
      for (const method of HTTP_METHODS) {
        if (item[method]) expect(item[method].responses.default).toBeDefined();
      }
    }
  });
});

describe('Registration is what toApiView shows', () => {
  it.each([
    ['a new pending registration', registration()],
    [
      'a finished one with every optional field',
      registration({
        state: 'failed',
        subject: 'alice@example.com',
        pollPolicy: {
          initialDelayMs: 500,
          multiplier: 2,
          maxDelayMs: 30_000,
          jitter: 0,
        },
        lastPolledAt: Date.now(),
        finishedAt: Date.now(),
        attempts: 4,
        lastError: {kind: 'http', status: 503, message: 'HTTP 503', body: '{}'},
        lastOperation: {name: 'x', done: true, error: {code: 9, message: 'no'}},
      }),
    ],
    [
      'a poll_error with a network error',
      registration({
        state: 'poll_error',
        lastError: {kind: 'network', message: 'no access token'},
      }),
    ],
  ])('%s', (_what, value) => {
    validator.assertValid('Registration', toApiView(value));
  });

  it('a field the document does not know is caught', () => {
    const view = {...toApiView(registration()), style: 'longrunning'};
    expect(validator.problems('Registration', view)).toEqual([
      expect.stringContaining('must NOT have additional properties'),
    ]);
  });
});

describe('Error is what errorBody builds', () => {
  it.each([400, 404, 405, 413, 415, 500, 503])('%i', code => {
    validator.assertValid('Error', errorBody(code, 'message'));
  });

  it('400 naming fields', () => {
    validator.assertValid(
      'Error',
      errorBody(400, 'invalid request', [
        {field: 'name', message: 'must not be empty'},
        {field: 'topic', message: 'must be a topic id'},
      ]),
    );
  });
});

describe('Notification and NotificationAttributes are what buildNotification publishes', () => {
  const finishedAt = Date.parse('2025-01-02T04:00:00Z');
  it.each([
    [
      'succeeded',
      {
        outcome: 'succeeded' as const,
        finishedAt,
        attempts: 3,
        operation: {name: 'x', done: true, response: {'@type': 't'}},
      },
    ],
    [
      'failed',
      {
        outcome: 'failed' as const,
        finishedAt,
        attempts: 3,
        operation: {name: 'x', done: true, error: {code: 7, message: 'denied'}},
      },
    ],
    [
      'expired',
      {
        outcome: 'expired' as const,
        finishedAt,
        attempts: 9,
        operation: {name: 'x', done: false},
        pollError: {kind: 'deadline' as const, message: 'timeout passed'},
      },
    ],
    [
      'not_found',
      {
        outcome: 'not_found' as const,
        finishedAt,
        attempts: 3,
        pollError: {kind: 'http' as const, status: 404, message: 'HTTP 404'},
      },
    ],
  ])('%s', (_what, ending) => {
    const message = buildNotification(registration(), ending);
    validator.assertValid('Notification', JSON.parse(message.data.toString()));
    validator.assertValid('NotificationAttributes', message.attributes);
  });

  it('truncated', () => {
    const huge = 'x'.repeat(10_500_000);
    const message = buildNotification(registration(), {
      outcome: 'succeeded',
      finishedAt,
      attempts: 1,
      operation: {name: 'x', done: true, response: {huge}},
    });
    expect(message.attributes.truncated).toBe('true');
    validator.assertValid('Notification', JSON.parse(message.data.toString()));
    validator.assertValid('NotificationAttributes', message.attributes);
  });
});

describe('RegistrationRequest agrees with the validation on the shape of a body', () => {
  const valid: object[] = [
    {operation: FIRESTORE_OP},
    {
      operation: FIRESTORE_OP,
      topic: 'other',
      labels: {team: 'data', 'run-id': '42'},
      timeout: '3600s',
      pollPolicy: {initialDelay: '1.5s', multiplier: 2, maxDelay: '30s'},
      scopes: [`${AUTH}datastore`],
    },
    {
      service: 'workspaceevents.googleapis.com',
      name: 'operations/abc',
      version: 'v1beta',
      subject: 'alice@example.com',
      scopes: [`${AUTH}chat.spaces.readonly`],
    },
    {
      service: 'compute.googleapis.com',
      name: 'projects/p/zones/z/operations/o',
    },
  ];
  const invalid: object[] = [
    {},
    {operation: FIRESTORE_OP, service: 'firestore.googleapis.com'},
    {operation: FIRESTORE_OP, version: 'v1'},
    {service: 'firestore.googleapis.com'},
    {name: 'projects/p/databases/d/operations/o'},
    {operation: FIRESTORE_OP, unknown: 1},
    {operation: FIRESTORE_OP, timeout: '1h'},
    {operation: FIRESTORE_OP, labels: {Team: 'x'}},
    {operation: FIRESTORE_OP, labels: {team: 1}},
    {
      operation: FIRESTORE_OP,
      labels: Object.fromEntries(
        Array.from({length: 33}, (_, i) => [`k${i}`, 'v']),
      ),
    },
    {operation: FIRESTORE_OP, scopes: []},
    {operation: FIRESTORE_OP, subject: 'not-an-email'},
    {operation: FIRESTORE_OP, pollPolicy: {multiplier: 11}},
    {operation: FIRESTORE_OP, pollPolicy: {jitter: 0.5, extra: true}},
    {operation: 'http://firestore.googleapis.com/v1/projects/p/operations/o'},
  ];

  it.each(valid.map(body => [JSON.stringify(body), body]))(
    'both accept %s',
    (_text, body) => {
      validator.assertValid('RegistrationRequest', body);
      expect(validateRegistration(body, context)).toMatchObject({ok: true});
    },
  );

  it.each(invalid.map(body => [JSON.stringify(body).slice(0, 120), body]))(
    'both refuse %s',
    (_text, body) => {
      expect(validator.problems('RegistrationRequest', body)).not.toEqual([]);
      expect(validateRegistration(body, context)).toMatchObject({ok: false});
    },
  );

  it('the examples in the document are valid registrations', () => {
    const content =
      OPENAPI_DOCUMENT.paths['/operations'].post!.requestBody!.content[
        'application/json'
      ];
    const examples = Object.values(content.examples ?? {}) as {
      value: object;
    }[];
    expect(examples.length).toBeGreaterThan(0);
    for (const {value} of examples) {
      validator.assertValid('RegistrationRequest', value);
      expect(validateRegistration(value, context)).toMatchObject({ok: true});
    }
  });
});

describe('503 when the store is unavailable', () => {
  const failing = new Proxy({} as RegistrationStore, {
    get: () => () => Promise.reject(new Error('firestore down')),
  });
  const app = express();
  app.use(express.json());
  app.use((req, res) => {
    void handler(req as unknown as Request, res as unknown as Response);
  });
  const handler = createRegistrationHandler({
    config: loadRegistrationConfig({
      GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
      DEFAULT_TOPIC: 'opwatch-notifications',
      ALLOW_UNAUTHENTICATED: 'true',
      WATCH_PROJECTS: '*',
    }),
    store: failing,
    log: createLogger(() => {}),
  });

  it.each([
    ['post', '/operations', '/operations'],
    ['get', '/operations', '/operations'],
    ['get', '/operations/{id}', '/operations/0123456789abcdef0123456789abcdef'],
    [
      'delete',
      '/operations/{id}',
      '/operations/0123456789abcdef0123456789abcdef',
    ],
  ] as const)('%s %s answers a documented 503', async (method, path, url) => {
    const answer = await request(app)
      [method](url)
      .send(method === 'post' ? {operation: FIRESTORE_OP} : undefined);
    expect(answer.status).toBe(503);
    expect(
      OPENAPI_DOCUMENT.paths[path][method]!.responses['503'],
    ).toBeDefined();
    validator.assertResponse(path, method, answer);
  });
});
