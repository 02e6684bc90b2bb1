/**
 * Proves the test doubles stand in for what they claim: the metadata server for google-auth-library's real
 * ADC path, and the operations server for `operations.get`.
 */
import {GoogleAuth} from 'google-auth-library';
import {FakeMetadataServer} from './metadata-server';
import {FakeOperationsServer} from './fake-operations-server';

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
