/**
 * End to end: register, tick, and a message on a real Pub/Sub emulator subscription with exactly the contract,
 * for every outcome; tokens minted by google-auth-library's real ADC path reach only the operations host.
 */
import {subscribe, unsubscribe} from 'node:diagnostics_channel';
import {startStack, type TestStack} from '../../support/stack';
import type {PulledMessage} from '../../support/emulator-env';
import {FakeOperationsServer} from '../../support/fake-operations-server';
import {ANONYMOUS} from '../../../functions/core/model';

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const API = 'https://firestore.googleapis.com/v1';

let stack: TestStack;
const fetched: string[] = [];
/**
 * Every HTTP request this process makes goes through undici, gRPC to the emulators aside: the operations client's
 * `request` and google-auth-library's `fetch` (Node's own undici) both announce each request on this channel.
 */
const requestCreated = 'undici:request:create';
const record = (message: unknown) => {
  const {origin, path} = (message as {request: {origin: string; path: string}})
    .request;
  fetched.push(`${origin}${path}`);
};

beforeAll(async () => {
  stack = await startStack();
  subscribe(requestCreated, record);
});

afterAll(async () => {
  unsubscribe(requestCreated, record);
  await stack.stop();
});

let serial = 0;
/** Defines an operation on the fake API and registers it; returns the registration and when the fake's clock started. */
async function watch(
  behavior: Parameters<FakeOperationsServer['define']>[1],
  extra: object = {},
) {
  const name = `projects/p/databases/(default)/operations/op-${++serial}-${Date.now()}`;
  const definedAt = Date.now();
  stack.operationsApi.define(name, behavior);
  const response = await stack.register({
    operation: `${API}/${name}`,
    labels: {team: 'data'},
    ...extra,
  });
  expect(response.status).toBe(201);
  return {
    name,
    id: response.body.id as string,
    registration: response.body,
    definedAt,
  };
}

/** Ticks until `count` messages arrived (a tick ends early once nothing is due within its budget). */
async function tickUntil(count: number): Promise<PulledMessage[]> {
  const messages: PulledMessage[] = [];
  for (let tick = 0; tick < 5 && messages.length < count; tick++) {
    const response = await stack.tick();
    expect(response.status).toBe(200);
    messages.push(...(await stack.pull(count - messages.length, 2000)));
  }
  return messages;
}

function only(messages: PulledMessage[], id: string) {
  const mine = messages.filter(
    message => message.attributes.registrationId === id,
  );
  expect(mine).toHaveLength(1);
  return mine[0];
}

describe('a finished operation reaches the topic with its result', () => {
  it('succeeded: the Operation exactly as the API returned it, and routing attributes', async () => {
    const response = {
      '@type':
        'type.googleapis.com/google.firestore.admin.v1.ExportDocumentsResponse',
      outputUriPrefix: 'gs://b/x',
    };
    const {name, id, registration, definedAt} = await watch({
      kind: 'finish',
      afterMs: 1500,
      response,
    });
    const message = only(await tickUntil(1), id);

    const lastAnswer = stack.operationsApi.requestsFor(name).at(-1)!;
    expect(lastAnswer.status).toBe(200);
    expect(message.attributes).toEqual({
      'ce-specversion': '1.0',
      'ce-id': expect.stringMatching(new RegExp(`^${id}-\\d+$`)),
      'ce-source': '//firestore.googleapis.com',
      'ce-type': 'dev.opwatch.operation.v1.succeeded',
      'ce-subject': name,
      'ce-time': (message.data as {finishedAt: string}).finishedAt,
      'content-type': 'application/json',
      outcome: 'succeeded',
      registrationId: id,
      owner: ANONYMOUS,
      service: 'firestore.googleapis.com',
      operationName: name,
      label_team: 'data',
    });
    const data = message.data as Record<string, unknown>;
    expect(data).toEqual({
      registrationId: id,
      outcome: 'succeeded',
      owner: ANONYMOUS,
      service: 'firestore.googleapis.com',
      operationUrl: `${API}/${name}`,
      operation: {
        name,
        metadata: expect.objectContaining({'@type': expect.any(String)}),
        done: true,
        response,
      },
      labels: {team: 'data'},
      registeredAt: registration.createdAt,
      finishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      attempts: stack.operationsApi.requestsFor(name).length,
    });
    // The fake's operation finishes 1.5 s after it was defined, which is before the registration was stored.
    expect(Date.parse(data.finishedAt as string)).toBeGreaterThanOrEqual(
      definedAt + 1500,
    );

    const stored = await stack.firestore
      .collection(stack.collection)
      .doc(id)
      .get();
    expect(stored.get('state')).toBe('succeeded');
    expect(stored.get('expireAt').toMillis()).toBeGreaterThan(
      Date.now() + 29 * 86_400_000,
    );
  });

  it('failed: the google.rpc.Status and its numeric code as errorCode', async () => {
    const error = {
      code: 7,
      message: 'The caller does not have permission',
      details: [
        {'@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'X'},
      ],
    };
    const {id} = await watch({kind: 'fail', afterMs: 0, error});
    const message = only(await tickUntil(1), id);
    expect(message.attributes).toMatchObject({
      outcome: 'failed',
      errorCode: '7',
    });
    expect((message.data as {operation: unknown}).operation).toMatchObject({
      done: true,
      error,
    });
  });

  it('succeeded when the service gives neither error nor response', async () => {
    const {id} = await watch({kind: 'done-empty', afterMs: 0});
    const message = only(await tickUntil(1), id);
    expect(message.attributes.outcome).toBe('succeeded');
    expect(
      (message.data as {operation: Record<string, unknown>}).operation,
    ).not.toHaveProperty('response');
  });
});

describe('a watch that cannot finish still ends with a notification', () => {
  it('not_found after three consecutive 404s', async () => {
    const {name, id} = await watch({kind: 'status', status: 404});
    const message = only(await tickUntil(1), id);
    expect(message.attributes.outcome).toBe('not_found');
    expect(stack.operationsApi.requestsFor(name)).toHaveLength(3);
    expect((message.data as {pollError: unknown}).pollError).toMatchObject({
      kind: 'http',
      status: 404,
    });
    expect(message.data).not.toHaveProperty('operation');
  });

  it('poll_error after three 403s, with the status and body', async () => {
    const {id} = await watch({kind: 'status', status: 403});
    const message = only(await tickUntil(1), id);
    expect(message.attributes.outcome).toBe('poll_error');
    const pollError = (
      message.data as {pollError: {status: number; body: string}}
    ).pollError;
    expect(pollError.status).toBe(403);
    expect(pollError.body).toContain('PERMISSION_DENIED');
  });

  it('expired past the timeout, with the last operation seen', async () => {
    const {name, id} = await watch({kind: 'never'}, {timeout: '2s'});
    const message = only(await tickUntil(1), id);
    expect(message.attributes.outcome).toBe('expired');
    const data = message.data as {
      operation: unknown;
      pollError: {kind: string};
    };
    expect(data.operation).toMatchObject({name, done: false});
    expect(data.pollError.kind).toBe('deadline');
  });
});

describe('transient failures are retried, never lost', () => {
  it('honours Retry-After on 429, then delivers', async () => {
    const {name, id} = await watch({
      kind: 'retry-after',
      status: 429,
      retryAfterSeconds: 2,
      times: 1,
      then: {kind: 'finish', afterMs: 0},
    });
    const message = only(await tickUntil(1), id);
    expect(message.attributes.outcome).toBe('succeeded');
    const [first, second] = stack.operationsApi.requestsFor(name);
    expect(first.status).toBe(429);
    expect(second.at - first.at).toBeGreaterThanOrEqual(2000);
  });

  it('retries 500s and a hanging answer (timeout) until the operation answers', async () => {
    const {name, id} = await watch({
      kind: 'sequence',
      steps: [
        {kind: 'status', status: 500},
        {kind: 'hang'},
        {kind: 'finish', afterMs: 0},
      ],
    });
    const message = only(await tickUntil(1), id);
    expect(message.attributes.outcome).toBe('succeeded');
    expect(stack.operationsApi.requestsFor(name).length).toBeGreaterThanOrEqual(
      3,
    );
  });

  it('answers the tick counts', async () => {
    await watch({kind: 'finish', afterMs: 0});
    const {body} = await stack.tick();
    expect(body).toEqual({
      polled: expect.any(Number),
      succeeded: expect.any(Number),
      failed: 0,
      expired: 0,
      notFound: 0,
      pollErrors: 0,
      retried: 0,
      published: expect.any(Number),
      undeliverable: 0,
      corrupt: 0,
      maxLateMs: expect.any(Number),
      listed: 0,
      durationMs: expect.any(Number),
    });
    expect(body.succeeded).toBeGreaterThanOrEqual(1);
    expect(body.published).toBe(body.succeeded);
    await stack.pull(10, 1000);
  });
});

describe('tokens', () => {
  it('sends the bearer token minted by ADC with the preset scopes, and follows no redirect', async () => {
    const canary = await FakeOperationsServer.start();
    try {
      const {name: redirecting, id} = await watch({
        kind: 'redirect',
        location: `${canary.baseUrl}/v1/steal`,
      });
      const workspace = `operations/subscriptions/s-${Date.now()}`;
      stack.operationsApi.define(workspace, {kind: 'finish', afterMs: 0});
      const registered = await stack.register({
        operation: `https://workspaceevents.googleapis.com/v1beta/${workspace}`,
      });
      const messages = await tickUntil(2);
      expect(only(messages, id).attributes.outcome).toBe('poll_error');
      expect(only(messages, registered.body.id).attributes.outcome).toBe(
        'succeeded',
      );

      expect(canary.requests).toHaveLength(0);
      const issued = new Set(stack.metadata.issuedTokens());
      for (const seen of [
        ...stack.operationsApi.requestsFor(redirecting),
        ...stack.operationsApi.requestsFor(workspace),
      ]) {
        expect(seen.authorization).toMatch(/^Bearer ya29\.fake-/);
        expect(issued.has(seen.authorization!.slice('Bearer '.length))).toBe(
          true,
        );
      }
      const scopes = stack.metadata.tokenRequests.map(
        request => request.scopes,
      );
      expect(scopes).toContainEqual([CLOUD_PLATFORM]);
      expect(
        scopes.some(list =>
          list.includes('https://www.googleapis.com/auth/chat.bot'),
        ),
      ).toBe(true);

      const allowed = [
        stack.operationsApi.baseUrl,
        `http://${stack.metadata.host}`,
      ];
      // Both were seen, so the check below is not vacuous.
      for (const prefix of allowed)
        expect(fetched.some(url => url.startsWith(prefix))).toBe(true);
      for (const url of fetched)
        expect(allowed.some(prefix => url.startsWith(prefix))).toBe(true);
    } finally {
      await canary.stop();
    }
  });
});

describe('leases', () => {
  it('overlapping ticks publish each registration once', async () => {
    const ids = new Set<string>();
    for (let n = 0; n < 20; n++) {
      ids.add((await watch({kind: 'finish', afterMs: 2000})).id);
    }
    const answers = await Promise.all([
      stack.tick(),
      stack.tick(),
      stack.tick(),
    ]);
    expect(answers.map(answer => answer.status)).toEqual([200, 200, 200]);
    // One tick takes the lease and polls until all are done; the others stand down, or (when the lease came
    // free before they asked) find nothing left to poll.
    const working = answers.filter(answer => answer.body.polled > 0);
    expect(working).toHaveLength(1);
    expect(working[0].body.published).toBe(20);
    const mine = (await stack.pull(25, 5000)).filter(message =>
      ids.has(message.attributes.registrationId),
    );
    expect(mine).toHaveLength(20);
    expect(
      new Set(mine.map(message => message.attributes.registrationId)).size,
    ).toBe(20);
  });
});
