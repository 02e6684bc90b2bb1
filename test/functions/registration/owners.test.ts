/**
 * Owners, with authentication on as deployed: the registration function in a process of its own verifies
 * callers' ID tokens with google-auth-library against a stand-in certificate endpoint (a locally generated key,
 * through ENDPOINT_OVERRIDES). B can neither see nor cancel A's registration; an admin can; no valid token, 401.
 */
import {Firestore} from '@google-cloud/firestore';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {GoogleIdentityServer} from '../../support/google-identity-server';
import {
  functionEnv,
  startOperationsProcess,
  type Answer,
  type SpawnedFunction,
} from '../../support/poll-process';

const AUDIENCE =
  'https://us-central1-demo-opwatch.cloudfunctions.net/operations';
const ALICE = 'alice@team-a.example';
const BOB = 'bob@team-b.example';
const ADMIN = 'oncall@platform.example';
const OPERATION = `https://firestore.googleapis.com/v1/projects/${TEST_PROJECT}/databases/(default)/operations/owned-${Date.now()}`;

let identity: GoogleIdentityServer;
let operations: SpawnedFunction;
let firestore: Firestore;
const collection = uniqueName('owners');

beforeAll(async () => {
  identity = await GoogleIdentityServer.start();
  firestore = new Firestore({projectId: TEST_PROJECT});
  operations = await startOperationsProcess(
    functionEnv(
      {
        projectId: TEST_PROJECT,
        firestoreHost: process.env.FIRESTORE_EMULATOR_HOST!,
        pubsubHost: process.env.PUBSUB_EMULATOR_HOST!,
        collection,
        // The registration function mints no tokens: nothing answers here.
        metadataHost: '127.0.0.1:9',
        endpointOverrides: identity.overrides,
      },
      {
        DEFAULT_TOPIC: 'notifications',
        ALLOW_UNAUTHENTICATED: 'false',
        FUNCTION_URLS: AUDIENCE,
        ADMIN_PRINCIPALS: ADMIN,
      },
    ),
  );
}, 180_000);

afterAll(async () => {
  await operations?.stop();
  await identity?.stop();
  await firestore?.terminate();
});

function call(
  method: string,
  path: string,
  token?: string,
  body?: object,
): Promise<Answer> {
  return operations.request({
    method,
    path,
    headers: {
      ...(token !== undefined && {authorization: `Bearer ${token}`}),
      ...(body && {'content-type': 'application/json'}),
    },
    ...(body && {body: JSON.stringify(body)}),
  });
}

const tokenOf = (email: string) => identity.idToken(email, AUDIENCE);
const errorOf = (answer: Answer) =>
  (answer.body as {error: {code: number; status: string; message: string}})
    .error;

describe('without a valid ID token', () => {
  it.each([
    ['no Authorization header', undefined],
    [
      'a token for another audience',
      () => identity.idToken(ALICE, 'https://elsewhere.example'),
    ],
    [
      'an expired token',
      () =>
        identity.idToken(ALICE, AUDIENCE, {
          exp: Math.floor(Date.now() / 1000) - 600,
        }),
    ],
    [
      'a token with a forged signature',
      () => `${tokenOf(ALICE).slice(0, -8)}AAAAAAAA`,
    ],
    [
      'a token without a verified e-mail',
      () => identity.idToken(ALICE, AUDIENCE, {email_verified: false}),
    ],
  ])('answers 401 for %s, and stores nothing', async (_what, token) => {
    const answer = await call('POST', '/operations', token?.(), {
      operation: OPERATION,
    });

    expect(answer.status).toBe(401);
    expect(errorOf(answer)).toMatchObject({
      code: 401,
      status: 'UNAUTHENTICATED',
    });
    const stored = await firestore.collection(collection).count().get();
    expect(stored.data().count).toBe(0);
  });
});

describe('owners', () => {
  let aliceId: string;

  beforeAll(async () => {
    const answer = await call('POST', '/operations', tokenOf(ALICE), {
      operation: OPERATION,
    });
    expect(answer.status).toBe(201);
    aliceId = (answer.body as {id: string}).id;
  });

  it('stores the caller as owner', async () => {
    const answer = await call('GET', `/operations/${aliceId}`, tokenOf(ALICE));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({id: aliceId, owner: ALICE});
    const stored = await firestore.collection(collection).doc(aliceId).get();
    expect(stored.get('owner')).toBe(ALICE);
  });

  it("B neither sees A's registration nor finds it in the list", async () => {
    const shown = await call('GET', `/operations/${aliceId}`, tokenOf(BOB));
    const listed = await call('GET', '/operations', tokenOf(BOB));

    expect(shown.status).toBe(404);
    expect(errorOf(shown).status).toBe('NOT_FOUND');
    expect(listed.status).toBe(200);
    expect((listed.body as {registrations: unknown[]}).registrations).toEqual(
      [],
    );
  });

  it("B cannot cancel A's registration", async () => {
    const cancelled = await call(
      'DELETE',
      `/operations/${aliceId}`,
      tokenOf(BOB),
    );

    expect(cancelled.status).toBe(404);
    const stored = await firestore.collection(collection).doc(aliceId).get();
    expect(stored.get('state')).toBe('pending');
  });

  it('B registering the same operation gets a watch of their own, with another id', async () => {
    const answer = await call('POST', '/operations', tokenOf(BOB), {
      operation: OPERATION,
    });

    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({owner: BOB});
    expect((answer.body as {id: string}).id).not.toBe(aliceId);
  });

  it("an admin sees everyone's registrations and cancels A's", async () => {
    const listed = await call('GET', '/operations', tokenOf(ADMIN));
    const owners = (
      listed.body as {registrations: {owner: string}[]}
    ).registrations
      .map(registration => registration.owner)
      .sort();
    expect(owners).toEqual([ALICE, BOB]);

    const shown = await call('GET', `/operations/${aliceId}`, tokenOf(ADMIN));
    expect(shown.status).toBe(200);

    const cancelled = await call(
      'DELETE',
      `/operations/${aliceId}`,
      tokenOf(ADMIN),
    );
    expect(cancelled.status).toBe(204);
    const stored = await firestore.collection(collection).doc(aliceId).get();
    expect(stored.get('state')).toBe('cancelled');
  });

  it('writes one audit line per registration and cancellation, naming who, what and how it ended', () => {
    const audits = operations.output
      .filter(line => line.text.startsWith('{'))
      .map(line => JSON.parse(line.text) as {audit?: Record<string, unknown>})
      .flatMap(entry => (entry.audit ? [entry.audit] : []));

    expect(audits).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'register',
          principal: ALICE,
          operationUrl: OPERATION,
          topic: `projects/${TEST_PROJECT}/topics/notifications`,
          outcome: 'created',
          registrationId: aliceId,
        }),
        expect.objectContaining({
          action: 'cancel',
          principal: BOB,
          registrationId: aliceId,
          outcome: 'not_found',
        }),
        expect.objectContaining({
          action: 'cancel',
          principal: ADMIN,
          registrationId: aliceId,
          outcome: 'cancelled',
        }),
      ]),
    );
  });
});

describe('X-Serverless-Authorization, the header IAM checks when it is sent', () => {
  const both = (serverless: string, authorization: string) =>
    operations.request({
      method: 'POST',
      path: '/operations',
      headers: {
        'content-type': 'application/json',
        'x-serverless-authorization': `Bearer ${serverless}`,
        authorization: `Bearer ${authorization}`,
      },
      body: JSON.stringify({operation: `${OPERATION}-serverless`}),
    });

  it('names the owner, whatever identity Authorization carries beside it', async () => {
    const answer = await both(tokenOf(BOB), tokenOf(ALICE));
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({owner: BOB});
  });

  it('refuses a token Cloud Run stripped of its signature rather than trust it, storing nothing', async () => {
    const before = await firestore.collection(collection).count().get();
    const [header, payload] = tokenOf(BOB).split('.');
    const answer = await both(`${header}.${payload}.`, tokenOf(ALICE));
    expect(answer.status).toBe(401);
    expect(errorOf(answer).message).toContain('X-Serverless-Authorization');
    const after = await firestore.collection(collection).count().get();
    expect(after.data().count).toBe(before.data().count);
  });
});
