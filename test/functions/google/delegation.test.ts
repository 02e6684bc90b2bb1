/**
 * Keyless domain-wide delegation end to end, as on Cloud Functions: the poller's credentials come from the
 * metadata server (no key), so it has IAM Credentials sign the delegation JWT and exchanges it at the OAuth token
 * endpoint, both stand-ins reached through ENDPOINT_OVERRIDES. The Workspace Events stand-in must receive the
 * delegated token, and the token is reused for the same subject and scopes.
 */
import {GoogleIdentityServer} from '../../support/google-identity-server';
import {startStack, type TestStack} from '../../support/stack';

const SUBJECT = 'ops@corp.example';
const CHAT_READ = 'https://www.googleapis.com/auth/chat.messages.readonly';
const MEET_READ = 'https://www.googleapis.com/auth/meetings.space.readonly';

let stack: TestStack;
let identity: GoogleIdentityServer;
let serial = 0;

beforeAll(async () => {
  identity = await GoogleIdentityServer.start();
  stack = await startStack(
    {DELEGATION_SUBJECTS: '@corp.example'},
    identity.overrides,
  );
});

afterAll(async () => {
  await stack.stop();
  await identity.stop();
});

/** Registers a Workspace Events operation as `SUBJECT` that finishes at once; returns its name and id. */
async function watchAsSubject(scopes: string[]) {
  const name = `operations/subscriptions/dwd-${++serial}-${Date.now()}`;
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
  const response = await stack.register({
    service: 'workspaceevents.googleapis.com',
    name,
    subject: SUBJECT,
    scopes,
  });
  expect(response.status).toBe(201);
  return {name, id: response.body.id as string};
}

it('signs the JWT through IAM Credentials, exchanges it, and polls with the delegated token', async () => {
  const {name, id} = await watchAsSubject([CHAT_READ]);
  const before = Math.floor(Date.now() / 1000);

  await stack.tick();

  const [message] = await stack.pull(1);
  expect(message.data).toMatchObject({
    registrationId: id,
    outcome: 'succeeded',
  });

  const [signing] = identity.signJwtCalls;
  const account = stack.metadata.serviceAccountEmail;
  expect(signing.serviceAccount).toBe(account);
  expect(signing.authorization).toMatch(/^Bearer ya29\./);
  expect(signing.claims).toMatchObject({
    iss: account,
    sub: SUBJECT,
    scope: CHAT_READ,
    aud: 'https://oauth2.googleapis.com/token',
  });
  const {iat, exp} = signing.claims as {iat: number; exp: number};
  expect(iat).toBeGreaterThanOrEqual(before - 5);
  expect(exp).toBeGreaterThan(iat);
  expect(exp).toBeLessThanOrEqual(iat + 3600);

  expect(identity.exchanges).toEqual([
    {
      grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      claims: signing.claims,
    },
  ]);
  const polls = stack.operationsApi.requestsFor(name);
  expect(polls.length).toBeGreaterThan(0);
  for (const poll of polls)
    expect(poll.authorization).toBe(`Bearer ${identity.issued[0]}`);
});

it('reuses the token for the same subject and scopes, and mints another for other scopes', async () => {
  const signedBefore = identity.signJwtCalls.length;
  const same = await watchAsSubject([CHAT_READ]);
  const other = await watchAsSubject([MEET_READ]);

  await stack.tick();
  await stack.pull(2);

  expect(identity.signJwtCalls.length).toBe(signedBefore + 1);
  expect(identity.signJwtCalls.at(-1)!.claims).toMatchObject({
    scope: MEET_READ,
  });
  expect(stack.operationsApi.requestsFor(same.name)[0].authorization).toBe(
    `Bearer ${identity.issued[0]}`,
  );
  expect(stack.operationsApi.requestsFor(other.name)[0].authorization).toBe(
    `Bearer ${identity.issued.at(-1)}`,
  );
});

it('ends the watch with poll_error when the token endpoint refuses the delegation', async () => {
  identity.tokenRefusal = {
    status: 401,
    body: {
      error: 'unauthorized_client',
      error_description: 'scope not authorised',
    },
  };
  try {
    const scopes = [CHAT_READ, MEET_READ];
    const {name, id} = await watchAsSubject(scopes);

    await stack.tick();

    const [message] = await stack.pull(1);
    expect(message.data).toMatchObject({
      registrationId: id,
      outcome: 'poll_error',
      pollError: {
        kind: 'network',
        message: expect.stringContaining('unauthorized_client'),
      },
    });
    expect(stack.operationsApi.requestsFor(name)).toEqual([]);
  } finally {
    identity.tokenRefusal = undefined;
  }
});
