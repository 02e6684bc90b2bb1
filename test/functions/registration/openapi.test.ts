/**
 * The OpenAPI document generated from the zod definitions: valid under a strict JSON Schema 2020-12 validator,
 * complete (every $ref resolves, every operation documents its errors), with examples the API accepts, and
 * closed where opwatch writes (a field the code does not define is caught). Answers of the running function are
 * checked against it in test/functions/registration/openapi-served.test.ts.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import express from 'express';
import request from 'supertest';
import {loadRegistrationConfig} from '../../../functions/core/config';
import {createLogger} from '../../../functions/platform/log';
import {STATES, type Registration} from '../../../functions/core/model';
import {buildNotification} from '../../../functions/notify/notification';
import {OPENAPI_DOCUMENT} from '../../../functions/registration/openapi';
import {HTTP_METHODS} from '../../../functions/registration/openapi-components';
import {createRegistrationHandler} from '../../../functions/registration/api';
import {toApiView} from '../../../functions/registration/view';
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
      'cancelWatch',
      'get',
      'getWatch',
      'list',
      'listWatches',
      'openapi',
      'register',
      'stats',
      'watch',
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

describe('generated the way the code reads and writes', () => {
  it('Registration is closed: what toApiView shows fits, a field the code does not define is caught', () => {
    const finished = registration({
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
    });
    const view = toApiView(finished, {
      state: 'poll_error',
      finishedAt: Date.now(),
      attempts: 2,
      lastError: {kind: 'network', message: 'no access token'},
    });
    validator.assertValid('Registration', view);
    expect(
      validator.problems('Registration', {...view, style: 'longrunning'}),
    ).toEqual([expect.stringContaining('must NOT have additional properties')]);
  });

  it('Notification and its attributes fit what buildNotification publishes, truncated too', () => {
    const finishedAt = Date.parse('2025-01-02T04:00:00Z');
    const failed = buildNotification(registration(), {
      outcome: 'failed',
      finishedAt,
      attempts: 3,
      operation: {name: 'x', done: true, error: {code: 7, message: 'denied'}},
    });
    const truncated = buildNotification(registration(), {
      outcome: 'succeeded',
      finishedAt,
      attempts: 1,
      operation: {
        name: 'x',
        done: true,
        response: {huge: 'x'.repeat(10_500_000)},
      },
    });
    expect(truncated.attributes.truncated).toBe('true');
    for (const message of [failed, truncated]) {
      validator.assertValid(
        'Notification',
        JSON.parse(message.data.toString()),
      );
      validator.assertValid('NotificationAttributes', message.attributes);
    }
  });

  it('RegistrationRequest is what a caller sends: durations as strings, before validation reads them', () => {
    const body = {
      operation: FIRESTORE_OP,
      timeout: '3600s',
      pollPolicy: {initialDelay: '0.5s'},
    };
    validator.assertValid('RegistrationRequest', body);
    expect(
      validator.problems('RegistrationRequest', {...body, timeout: 3600}),
    ).not.toEqual([]);
  });

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

  it('the register answer describes watching again', () => {
    const register = OPENAPI_DOCUMENT.paths['/operations'].post!;
    expect(register.description).toMatch(/ended.*201.*previous/s);
    const registrationSchema = OPENAPI_DOCUMENT.components.schemas.Registration;
    expect(registrationSchema.properties?.previous).toEqual(
      expect.objectContaining({$ref: '#/components/schemas/PreviousWatch'}),
    );
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
