/**
 * The service account's token goes to Google's hosts (or an operator's listed stand-in) and nowhere else.
 *
 * 1. Registrations that try to point the poller elsewhere are refused (400) and nothing is stored.
 * 2. A trusted host that redirects elsewhere gets no hop: a canary at the redirect target sees no request.
 * 3. An ENDPOINT_OVERRIDES host is trusted only while listed: a registration stored while it was listed is not
 *    polled there by a poller whose configuration no longer lists it; listed, the same host is polled (control).
 */
import {FakeOperationsServer} from '../support/fake-operations-server';
import {
  functionEnv,
  startOperationsProcess,
  startPollProcess,
  type SpawnedFunction,
} from '../support/poll-process';
import {
  FAKED_SERVICES,
  stackAddresses,
  startStack,
  type TestStack,
} from '../support/stack';
import {printFigures, sleep, stackEnv} from './harness';
import {
  CANARY_HOST,
  FIRESTORE_NAME,
  HOSTILE_PARTS,
  HOSTILE_URLS,
} from './hostile-urls';

/** WATCH_SERVICES: the stand-in hosts and the canary, which has no preset. */
const WATCH_WITH_CANARY = [...FAKED_SERVICES, CANARY_HOST].join(',');

let stack: TestStack;
let poller: SpawnedFunction;
let redirectCanary: FakeOperationsServer;
let overrideCanary: FakeOperationsServer;

beforeAll(async () => {
  stack = await startStack();
  redirectCanary = await FakeOperationsServer.start();
  overrideCanary = await FakeOperationsServer.start();
  poller = await startPollProcess(
    stackEnv(stack, {
      POLL_BUDGET_SECONDS: '6',
      POLL_LEASE_SECONDS: '3',
      POLL_REQUEST_TIMEOUT_SECONDS: '2',
      // The allowlist lets the canary through, so what stops the poll is the trust in ENDPOINT_OVERRIDES alone.
      WATCH_SERVICES: WATCH_WITH_CANARY,
    }),
  );
});

afterAll(async () => {
  await poller?.stop();
  await redirectCanary?.stop();
  await overrideCanary?.stop();
  await stack?.stop();
});

const stored = async () =>
  (await stack.firestore.collection(stack.collection).count().get()).data()
    .count;

/** Ticks until the registration with `id` leaves `pending`; its final state. */
async function tickUntilFinal(id: string): Promise<Record<string, unknown>> {
  for (let tick = 0; tick < 10; tick++) {
    const doc = await stack.firestore
      .collection(stack.collection)
      .doc(id)
      .get();
    if (doc.get('state') !== 'pending') return doc.data()!;
    await poller.tick();
  }
  throw new Error(`${id} still pending after 10 ticks`);
}

const figures: Record<string, unknown> = {};
afterAll(() => printFigures('token-safety', figures));

describe('registrations that point elsewhere', () => {
  it('are refused with 400 and never stored', async () => {
    const before = await stored();
    const answers: [string, number][] = [];
    for (const operation of HOSTILE_URLS) {
      answers.push([operation, (await stack.register({operation})).status]);
    }
    for (const body of HOSTILE_PARTS) {
      answers.push([JSON.stringify(body), (await stack.register(body)).status]);
    }
    figures.hostileRegistrations = answers.length;
    figures.refused = answers.filter(([, status]) => status === 400).length;
    expect(answers.filter(([, status]) => status !== 400)).toEqual([]);
    expect(await stored()).toBe(before);
  });

  it('an upper-case spelling of a Google host is the same host, stored in lower case (control)', async () => {
    const response = await stack.register({
      operation: `https://FIRESTORE.GoogleApis.COM/v1/${FIRESTORE_NAME}-upper`,
    });
    expect(response.status).toBe(201);
    expect(response.body.service).toBe('firestore.googleapis.com');
  });
});

describe('redirects from a trusted host', () => {
  it('are never followed: the redirect target sees no request, the watch ends poll_error', async () => {
    const target = `${redirectCanary.baseUrl}/v1/${FIRESTORE_NAME}`;
    const locations = [
      target,
      `//${redirectCanary.host}/v1/${FIRESTORE_NAME}`,
      `${redirectCanary.baseUrl}/`,
    ];
    const cases = ([301, 302, 307, 308] as const).flatMap(status =>
      locations.map(location => ({status, location})),
    );
    const ids: string[] = [];
    const names: string[] = [];
    for (const [n, {status, location}] of cases.entries()) {
      const name = `${FIRESTORE_NAME}-redirect-${Date.now()}-${n}`;
      stack.operationsApi.define(name, {kind: 'redirect', status, location});
      const response = await stack.register({
        operation: `https://firestore.googleapis.com/v1/${name}`,
      });
      expect(response.status).toBe(201);
      ids.push(response.body.id);
      names.push(name);
    }
    for (const id of ids) {
      const final = await tickUntilFinal(id);
      expect(final.state).toBe('poll_error');
    }
    figures.redirects = cases.length;
    figures.redirectCanaryRequests = redirectCanary.requests.length;
    expect(redirectCanary.requests).toEqual([]);
    // Each redirecting answer was seen once per poll, from the poller, with its own token: no second hop.
    for (const name of names) {
      const seen = stack.operationsApi.requestsFor(name);
      expect(seen.length).toBe(3);
      for (const request of seen)
        expect(request.authorization).toMatch(/^Bearer ya29\.fake-/);
    }
  });
});

describe('ENDPOINT_OVERRIDES', () => {
  let listedApi: SpawnedFunction;
  let listedPoller: SpawnedFunction | undefined;

  beforeAll(async () => {
    listedApi = await startOperationsProcess(
      functionEnv(
        stackAddresses(stack, {[CANARY_HOST]: overrideCanary.baseUrl}),
        {DEFAULT_TOPIC: stack.topic, WATCH_SERVICES: WATCH_WITH_CANARY},
      ),
    );
  });

  afterAll(async () => {
    await listedApi?.stop();
    await listedPoller?.stop();
  });

  async function registerListed(name: string): Promise<string> {
    overrideCanary.define(name, {kind: 'finish', afterMs: 0});
    const response = await listedApi.request({
      method: 'POST',
      path: '/operations',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({operation: `https://${CANARY_HOST}/v1/${name}`}),
    });
    expect(response.status).toBe(201);
    return (response.body as {id: string}).id;
  }

  it('a host is trusted only while listed: stored when listed, never polled by a poller that does not list it', async () => {
    // The registration API that does not list the host refuses it (also in HOSTILE_URLS); one that does, stores it.
    const unlisted = await stack.register({
      operation: `https://${CANARY_HOST}/v1/operations/first`,
    });
    expect(unlisted.status).toBe(400);
    const id = await registerListed(`operations/first-${Date.now()}`);

    const final = await tickUntilFinal(id);
    expect(final.state).toBe('poll_error');
    expect(final.lastError).toMatchObject({kind: 'untrusted'});
    figures.unlistedOverrideCanaryRequests = overrideCanary.requests.length;
    expect(overrideCanary.requests).toEqual([]);
  });

  it('listed, the same host is polled with the token (control: the canary can see a request)', async () => {
    await poller.stop();
    listedPoller = await startPollProcess(
      functionEnv(
        // The faked Google hosts too: no test may send even a fake token to a real Google API.
        stackAddresses(stack, {[CANARY_HOST]: overrideCanary.baseUrl}),
        {
          POLL_BUDGET_SECONDS: '4',
          POLL_LEASE_SECONDS: '3',
          WATCH_SERVICES: WATCH_WITH_CANARY,
        },
      ),
    );
    const name = `operations/second-${Date.now()}`;
    await registerListed(name);
    for (let tick = 0; tick < 5; tick++) {
      if (overrideCanary.requestsFor(name).length > 0) break;
      await listedPoller.tick();
      await sleep(200);
    }
    const seen = overrideCanary.requestsFor(name);
    figures.listedOverrideCanaryRequests = seen.length;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0].authorization).toMatch(/^Bearer ya29\.fake-/);
    expect(overrideCanary.requests.every(r => r.name === name)).toBe(true);
  });
});
