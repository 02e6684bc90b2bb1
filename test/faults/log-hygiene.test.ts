/**
 * No token in the logs: both functions run as real processes through a busy run (successes, failures, 404s,
 * expiries, publish failures, bad requests) while every caller sends an ID token, as Cloud Scheduler's OIDC and
 * IAM-authenticated callers do, and an API stand-in echoes the poller's bearer token back in its error answers
 * (body, WWW-Authenticate, an HTML page). Every line either process writes is searched for every token the
 * metadata server minted.
 *
 * The echoed token must not travel on either: not into notifications (every subscriber would read it) nor into
 * the registration API's answers.
 */
import {createServer, type IncomingMessage, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {
  functionEnv,
  startOperationsProcess,
  startPollProcess,
  type Answer,
  type SpawnedFunction,
} from '../support/poll-process';
import {stackAddresses, startStack, type TestStack} from '../support/stack';
import {Collector, inParallel, printFigures, sleep} from './harness';

/** The echo server stands in for this host; the fake operations server for the others. */
const ECHO_HOST = 'apigateway.googleapis.com';
const ECHO_NAME = 'projects/p/locations/l/operations';
const FIRESTORE_NAME = 'projects/p/databases/(default)/operations';

/** What the echo server answers for a name containing the key. */
const ECHOES: Record<string, number> = {
  'echo-401': 401,
  'echo-403': 403,
  'echo-404': 404,
  'echo-400': 400,
  'echo-500': 500,
  'echo-429': 429,
  'echo-html': 200,
};

/** A careless API: every error repeats the caller's credentials back. */
async function startEchoServer(): Promise<{
  server: Server;
  baseUrl: string;
  requests: number;
}> {
  const state = {requests: 0};
  const server = createServer((req: IncomingMessage, res) => {
    state.requests++;
    const auth = req.headers.authorization ?? '';
    const token = auth.replace(/^Bearer\s+/i, '');
    const key = Object.keys(ECHOES).find(k => req.url?.includes(k));
    const status = key ? ECHOES[key] : 404;
    if (key === 'echo-html') {
      res.writeHead(200, {'content-type': 'text/html'});
      res.end(`<html><body>Signed in as ${auth}. token=${token}</body></html>`);
      return;
    }
    res.writeHead(status, {
      'content-type': 'application/json',
      'www-authenticate': `Bearer error="invalid_token", token="${token}"`,
      ...(status === 429 && {'retry-after': '1'}),
    });
    res.end(
      JSON.stringify({
        error: {
          code: status,
          message: `Request had invalid credentials: ${auth}`,
          status: 'UNAUTHENTICATED',
          details: [{received: {authorization: auth, token}}],
        },
      }),
    );
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as AddressInfo;
  return {
    server,
    baseUrl: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
  };
}

let stack: TestStack;
let echo: Awaited<ReturnType<typeof startEchoServer>>;
let api: SpawnedFunction;
let poller: SpawnedFunction;

beforeAll(async () => {
  stack = await startStack();
  echo = await startEchoServer();
  const addresses = stackAddresses(stack, {[ECHO_HOST]: echo.baseUrl});
  api = await startOperationsProcess(
    functionEnv(addresses, {DEFAULT_TOPIC: stack.topic}),
  );
  poller = await startPollProcess(
    functionEnv(addresses, {
      POLL_BUDGET_SECONDS: '5',
      POLL_LEASE_SECONDS: '3',
      POLL_REQUEST_TIMEOUT_SECONDS: '2',
    }),
  );
});

afterAll(async () => {
  await poller?.stop();
  await api?.stop();
  await new Promise(resolve => echo?.server.close(resolve));
  await stack?.stop();
});

/** Asks the metadata server for a token, as a caller on Google Cloud would; it is recorded as issued. */
async function mint(path: string): Promise<string> {
  const response = await fetch(
    `http://${stack.metadata.host}/computeMetadata/v1/instance/service-accounts/default/${path}`,
    {headers: {'Metadata-Flavor': 'Google'}},
  );
  const text = await response.text();
  return path.startsWith('token')
    ? (JSON.parse(text) as {access_token: string}).access_token
    : text;
}

it('no token the metadata server minted appears in any log line, notification or API answer', async () => {
  const idToken = await mint(
    'identity?audience=https://opwatch-poll&format=full',
  );
  const apiIdToken = await mint('identity?audience=https://opwatch-operations');
  const callerAccessToken = await mint('token?scopes=openid');
  const trace = '105445aa7843bc8bf206b12000100000/1;o=1';
  const caller = (token: string) => ({
    authorization: `Bearer ${token}`,
    'x-cloud-trace-context': trace,
  });
  const post = (body: string, headers: Record<string, string> = {}) =>
    api.request({
      method: 'POST',
      path: '/operations',
      headers: {
        'content-type': 'application/json',
        ...caller(apiIdToken),
        ...headers,
      },
      body,
    });

  // Registrations: successes, failures, not found, denied, and every echoing error.
  const run = Date.now();
  const registrations: {operation: string; timeout?: string; topic?: string}[] =
    [];
  const fake = (kind: string, behavior: object, count: number) => {
    for (let n = 0; n < count; n++) {
      const name = `${FIRESTORE_NAME}/${kind}-${run}-${n}`;
      stack.operationsApi.define(
        name,
        behavior as Parameters<TestStack['operationsApi']['define']>[1],
      );
      registrations.push({
        operation: `https://firestore.googleapis.com/v1/${name}`,
      });
    }
  };
  fake('finish', {kind: 'finish', afterMs: 500}, 20);
  fake(
    'fail',
    {kind: 'fail', afterMs: 500, error: {code: 7, message: 'no'}},
    10,
  );
  fake('gone', {kind: 'status', status: 404}, 5);
  fake('denied', {kind: 'status', status: 403}, 5);
  for (const key of Object.keys(ECHOES)) {
    for (let n = 0; n < 3; n++) {
      registrations.push({
        operation: `https://${ECHO_HOST}/v1/${ECHO_NAME}/${key}-${run}-${n}`,
        // Transient answers never end a watch by themselves: let it expire.
        timeout: '6s',
      });
    }
  }
  for (let n = 0; n < 3; n++) {
    const name = `${FIRESTORE_NAME}/unpublishable-${run}-${n}`;
    stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
    registrations.push({
      operation: `https://firestore.googleapis.com/v1/${name}`,
      topic: `missing-topic-${run}`,
      timeout: '5s',
    });
  }
  const created = await inParallel(registrations, 8, async body => {
    const answer = await post(JSON.stringify(body));
    expect(answer.status).toBe(201);
    return (answer.body as {id: string}).id;
  });

  // Requests the API refuses, each carrying the caller's credentials.
  const refused: Answer[] = [];
  refused.push(await post('{"operation": '));
  refused.push(await post('{}', {'content-type': 'text/plain'}));
  refused.push(
    await post('{}', {'content-type': 'application/json; charset=ebcdic'}),
  );
  refused.push(
    await post(JSON.stringify({operation: `https://evil.test/v1/${idToken}`})),
  );
  refused.push(await post(JSON.stringify({[idToken]: 1})));
  refused.push(await post('x'.repeat(100_000)));
  refused.push(
    await post(
      JSON.stringify({operation: 'https://firestore.googleapis.com/v1/x'}),
      {
        authorization: `Bearer ${callerAccessToken}`,
      },
    ),
  );
  for (const [method, path] of [
    ['GET', '/operations?pageToken=bogus'],
    ['GET', '/operations/0123456789abcdef0123456789abcdef'],
    ['DELETE', '/operations/nope'],
    ['PUT', '/operations'],
    ['GET', `/${idToken}`],
  ]) {
    refused.push(
      await api.request({method, path, headers: caller(apiIdToken)}),
    );
  }
  for (const answer of refused) {
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
  }

  // Scheduler's calls, with its OIDC token, until every watch that can end has ended.
  const collector = await new Collector(stack.subscription.name, {
    keepData: true,
  }).start(stack.subscription);
  const publishable = created.slice(0, created.length - 3);
  const ticks: Answer[] = [];
  for (let tick = 0; tick < 12; tick++) {
    ticks.push(await poller.tick({headers: caller(idToken)}));
    if (await collector.waitFor(publishable, 500)) break;
  }
  await sleep(1000);
  await collector.stop();
  expect(await collector.waitFor(publishable, 0)).toBe(true);

  // The API's view of every registration, as a caller would read it.
  const views: Answer[] = await inParallel(created, 8, id =>
    api.request({
      method: 'GET',
      path: `/operations/${id}`,
      headers: caller(apiIdToken),
    }),
  );
  const listing = await api.request({
    method: 'GET',
    path: '/operations?pageSize=1000',
    headers: caller(apiIdToken),
  });

  const issued = stack.metadata.issuedTokens();
  const logs = [api.text(), poller.text()].join('\n');
  const notifications = collector.received.map(m => m.data ?? '').join('\n');
  const answers = [...views, listing]
    .map(a => JSON.stringify(a.body))
    .join('\n');
  /** Where any token, or the secret tail of one, shows up. */
  const leaks = (text: string) =>
    issued.filter(
      token => text.includes(token) || text.includes(token.slice(-24)),
    ).length;
  const figures = {
    issuedTokens: issued.length,
    accessTokensUsedByPoller: stack.metadata.tokenRequests.length,
    echoedAnswers: echo.requests,
    registrations: created.length,
    refusedRequests: refused.length,
    ticks: ticks.length,
    logLines: api.output.length + poller.output.length,
    notifications: collector.received.length,
    tokensInLogs: leaks(logs),
    tokensInNotifications: leaks(notifications),
    tokensInApiAnswers: leaks(answers),
  };
  printFigures('log-hygiene', figures);

  // The run was busy in the ways that matter: tokens minted and echoed, and the echoed errors recorded.
  expect(echo.requests).toBeGreaterThanOrEqual(Object.keys(ECHOES).length * 3);
  expect(answers).toContain('invalid credentials');
  expect(figures.tokensInLogs).toBe(0);
  expect(figures.tokensInNotifications).toBe(0);
  expect(figures.tokensInApiAnswers).toBe(0);
  expect(api.unexpectedExits).toEqual([]);
  expect(poller.unexpectedExits).toEqual([]);
});
