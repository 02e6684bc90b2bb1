/**
 * Proves the test doubles stand in for what they claim: the metadata server for google-auth-library's real
 * ADC path, and the operations server for `operations.get`.
 */
import {GoogleAuth} from 'google-auth-library';
import {FakeMetadataServer} from './metadata-server';
import {FakeOperationsServer, drawLatency} from './fake-operations-server';

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const NAME = 'projects/p/databases/(default)/operations/A';

let metadata: FakeMetadataServer;
let operations: FakeOperationsServer;
let restoreEnv: () => void;

beforeAll(async () => {
  metadata = await FakeMetadataServer.start({projectId: 'doubles-test'});
  operations = await FakeOperationsServer.start();
  restoreEnv = metadata.install();
});

afterAll(async () => {
  restoreEnv();
  await Promise.all([metadata.stop(), operations.stop()]);
});

test('google-auth-library mints access and ID tokens from the fake metadata server', async () => {
  const auth = new GoogleAuth({scopes: [CLOUD_PLATFORM]});

  const token = await auth.getAccessToken();
  const idClient = await auth.getIdTokenClient('https://opwatch.example/push');
  const idToken = await idClient.idTokenProvider.fetchIdToken(
    'https://opwatch.example/push',
  );

  expect(token).toMatch(/^ya29\.fake-[0-9a-f]{32}$/);
  expect(metadata.tokenRequests).toEqual([
    {scopes: [CLOUD_PLATFORM], at: expect.any(Number), token},
  ]);
  expect(metadata.identityRequests.map(r => r.audience)).toEqual([
    'https://opwatch.example/push',
  ]);
  expect(metadata.issuedTokens()).toEqual([token, idToken]);
  expect(
    JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString()),
  ).toMatchObject({
    aud: 'https://opwatch.example/push',
    email: metadata.serviceAccountEmail,
  });
  // The detection ping proves ADC reached the metadata path rather than a credentials file.
  expect(metadata.requests).toContain('/computeMetadata/v1/instance');
  expect(await auth.getProjectId()).toBe('doubles-test');
});

test('the fake operations server answers a finishing operation running, then done', async () => {
  operations.define(NAME, {
    kind: 'finish',
    // Long enough that the first request lands before it on a loaded 2-core machine (150 ms did not).
    afterMs: 2000,
    response: {'@type': 'x.Done', ok: true},
  });
  const get = async () => {
    const res = await fetch(`${operations.baseUrl}/v1/${NAME}`, {
      headers: {Authorization: 'Bearer t'},
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return res.json();
  };

  expect(await get()).toMatchObject({name: NAME, done: false});
  await new Promise(resolve => setTimeout(resolve, 2100));
  expect(await get()).toEqual({
    name: NAME,
    done: true,
    metadata: expect.objectContaining({
      '@type': 'type.googleapis.com/opwatch.test.Progress',
    }),
    response: {'@type': 'x.Done', ok: true},
  });
  expect(
    operations.requestsFor(NAME).map(r => [r.status, r.authorization]),
  ).toEqual([
    [200, 'Bearer t'],
    [200, 'Bearer t'],
  ]);
});

test('the fake operations server draws latencies from a log-normal with the median and p99 asked for', () => {
  let state = 1;
  // A small LCG: enough to draw from, and the same every run.
  const random = () => (state = (state * 48271) % 2147483647) / 2147483647;
  const draws = Array.from({length: 20_000}, () =>
    drawLatency({medianMs: 80, p99Ms: 800}, random),
  ).sort((a, b) => a - b);
  expect(draws[10_000]).toBeGreaterThan(72);
  expect(draws[10_000]).toBeLessThan(88);
  expect(draws[19_800]).toBeGreaterThan(650);
  expect(draws[19_800]).toBeLessThan(980);
  expect(drawLatency(50, random)).toBe(50);
});

test('the fake operations server answers a share of requests with 500 or 503 when asked', async () => {
  const name = 'projects/p/databases/(default)/operations/ERRORS';
  operations.define(name, {kind: 'finish', afterMs: 0});
  const statuses = async () =>
    Promise.all(
      Array.from({length: 20}, () =>
        fetch(`${operations.baseUrl}/v1/${name}`).then(r => r.status),
      ),
    );
  operations.setServerErrors(1);
  expect(new Set(await statuses())).toEqual(new Set([500, 503]));
  operations.setServerErrors(0);
  expect(new Set(await statuses())).toEqual(new Set([200]));
});
