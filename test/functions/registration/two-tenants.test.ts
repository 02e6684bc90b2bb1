/**
 * One deployment shared by two teams, on the emulators, with ID tokens the test mints against a certificate
 * stand-in, verified by google-auth-library in the registration function's own process, as deployed (the poller
 * runs in the test's): every refusal of a shared deployment, each storing nothing; the owner and tenant on
 * registrations and notifications; an admin's list of one tenant; the floor between polls after jitter; and a
 * quick operation of one tenant notified promptly right after the other tenant taught its kind a long duration.
 */
import {PubSub, type Subscription} from '@google-cloud/pubsub';
import {MIN_POLL_INTERVAL_MS} from '../../../functions/core/policy';
import {KindDurations} from '../../../functions/forecast/kind-durations';
import {operationKind} from '../../../functions/forecast/kind';
import {MAX_BODY_BYTES} from '../../../functions/http/body-limit';
import {createLogger} from '../../../functions/platform/log';
import {
  TEST_PROJECT,
  createTopicAndSubscription,
  pullMessages,
  uniqueName,
  type PulledMessage,
} from '../../support/emulator-env';
import {GoogleIdentityServer} from '../../support/google-identity-server';
import {
  functionEnv,
  startOperationsProcess,
  startPollProcess,
  type Answer,
  type SpawnedFunction,
} from '../../support/poll-process';
import {stackAddresses, startStack, type TestStack} from '../../support/stack';

const AUDIENCE = 'https://us-central1-demo-opwatch.cloudfunctions.net/ops';
const ALICE = 'alice@a.example';
const ANNA = 'anna@a-team.example';
const BOB = 'bob@b.example';
const CAROL = 'carol@nowhere.example';
const ADMIN = 'oncall@platform.example';
const FIRESTORE = 'https://firestore.googleapis.com/v1';
const TOPICS = `projects/${TEST_PROJECT}/topics`;
/** Metadata of one kind, without progress, so only its history can inform the forecast. */
const SLOW_KIND = {
  '@type': 'type.googleapis.com/opwatch.test.ReindexMetadata',
  verb: 'reindex',
};
/** How long team B's operations of that kind take. */
const LONG_MS = 15_000;

/**
 * An operation of that kind, done `ms` after it is defined (or after its first poll, `fromFirstPoll`), reporting
 * its end time as Google's operations do: what opwatch learns is then the operation's own duration.
 */
function takes(ms: number, fromFirstPoll = false) {
  let endsAt = fromFirstPoll ? undefined : Date.now() + ms;
  return {
    kind: 'computed' as const,
    operation: (now: number) =>
      now < (endsAt ??= now + ms)
        ? {metadata: SLOW_KIND, done: false}
        : {
            metadata: {...SLOW_KIND, endTime: new Date(endsAt).toISOString()},
            done: true,
            response: {},
          },
  };
}

const own = {
  fanout: uniqueName('opwatch-fanout'),
  deadLetter: uniqueName('opwatch-dead'),
  completions: uniqueName('opwatch-audit'),
};
/** The configuration both functions share. */
const ENV = {
  ADMIN_PRINCIPALS: ADMIN,
  WATCH_PROJECTS: 'proj-a,proj-b',
  WATCH_SERVICES: '*',
  ALLOWED_TOPICS: `${TOPICS}/*`,
  POLL_FANOUT_TOPIC: own.fanout,
  DEAD_LETTER_TOPIC: own.deadLetter,
  COMPLETION_EVENTS_TOPIC: own.completions,
  TENANTS: JSON.stringify({
    'team-a': {
      principals: [ALICE, '*@a-team.example'],
      projects: ['proj-a'],
      topics: [`${TOPICS}/team-a-*`],
    },
    'team-b': {
      principals: [BOB],
      projects: ['proj-b'],
      topics: [`${TOPICS}/team-b-*`],
      maxPending: 8,
    },
  }),
};

let stack: TestStack;
let operations: SpawnedFunction;
let identity: GoogleIdentityServer;
let pubsub: PubSub;
const topics = {a: uniqueName('team-a'), b: uniqueName('team-b')};
const inbox: Record<'a' | 'b', Subscription> = {} as never;
let serial = 0;

beforeAll(async () => {
  identity = await GoogleIdentityServer.start();
  // The poller, in this process, checks the same lists at every poll. Started first: it installs the
  // metadata stand-in, which google-auth-library must find on its first look.
  stack = await startStack(ENV);
  pubsub = new PubSub({projectId: TEST_PROJECT});
  for (const team of ['a', 'b'] as const) {
    ({subscription: inbox[team]} = await createTopicAndSubscription(
      pubsub,
      topics[team],
      `${topics[team]}-sub`,
    ));
  }
  await pubsub.createTopic(own.fanout);
  operations = await startOperationsProcess(
    functionEnv(stackAddresses(stack, identity.overrides), {
      ...ENV,
      DEFAULT_TOPIC: stack.topic,
      ALLOW_UNAUTHENTICATED: 'false',
      FUNCTION_URLS: AUDIENCE,
    }),
  );
}, 180_000);

afterAll(async () => {
  await operations?.stop();
  await stack?.stop();
  await identity?.stop();
  await pubsub?.close();
});

const tokenOf = (email: string) => identity.idToken(email, AUDIENCE);
/** An error answer's error. */
type Failure = {error: {code: number; status: string; message: string}};
/** Any answer's JSON body, as the tests read it. */
type Body = Record<string, unknown> & Partial<Failure>;

/** Calls the registration API as `email` (none: no token), with `serverless` in X-Serverless-Authorization. */
async function call(
  method: string,
  path: string,
  options: {email?: string; serverless?: string; body?: object} = {},
): Promise<Answer & {body: Body}> {
  const {email, serverless, body} = options;
  const answer = await operations.request({
    method,
    path,
    headers: {
      ...(email && {authorization: `Bearer ${tokenOf(email)}`}),
      ...(serverless && {
        'x-serverless-authorization': `Bearer ${tokenOf(serverless)}`,
      }),
      ...(body && {'content-type': 'application/json'}),
    },
    ...(body && {body: JSON.stringify(body)}),
  });
  return answer as Answer & {body: Body};
}

const register = (
  email: string | undefined,
  body: object,
  serverless?: string,
) => call('POST', '/operations', {email, serverless, body});
const get = (email: string, path: string) => call('GET', path, {email});
const cancel = (email: string, id: unknown) =>
  call('DELETE', `/operations/${String(id)}`, {email});

/** An operation of `project`, defined on the fake API as `behavior` says. */
function operation(
  project: string,
  behavior: Parameters<TestStack['operationsApi']['define']>[1] = {
    kind: 'never',
  },
): {name: string; url: string} {
  const name = `projects/${project}/databases/(default)/operations/t-${Date.now()}-${++serial}`;
  stack.operationsApi.define(name, behavior);
  return {name, url: `${FIRESTORE}/${name}`};
}

async function stored(): Promise<number> {
  const snapshot = await stack.firestore
    .collection(stack.collection)
    .count()
    .get();
  return snapshot.data().count;
}

/** Ticks until `count` notifications arrived on team `team`'s topic, or `timeoutMs` passed. */
async function notified(
  team: 'a' | 'b',
  count: number,
  timeoutMs = 60_000,
): Promise<PulledMessage[]> {
  const messages: PulledMessage[] = [];
  const giveUpAt = Date.now() + timeoutMs;
  while (messages.length < count && Date.now() < giveUpAt) {
    const [, pulled] = await Promise.all([
      stack.tick(),
      pullMessages(inbox[team], {
        count: count - messages.length,
        timeoutMs: 9000,
      }),
    ]);
    messages.push(...pulled);
  }
  return messages;
}

describe('refusals, each storing nothing', () => {
  const ownTopic = (topic: string) => ({
    operation: operation('proj-a').url,
    topic,
  });

  it.each([
    [
      'a caller in no tenant',
      () => register(CAROL, {operation: operation('proj-a').url}),
      403,
      `${CAROL} is in no tenant of TENANTS`,
    ],
    [
      "team A registering team B's operation",
      () => register(ALICE, {operation: operation('proj-b').url}),
      403,
      'project proj-b is not in TENANTS.team-a.projects',
    ],
    [
      "team A routing a result to team B's topic",
      () =>
        register(ANNA, {
          operation: operation('proj-a').url,
          topic: `${TOPICS}/${topics.b}`,
        }),
      403,
      'is not in TENANTS.team-a.topics',
    ],
    [
      "opwatch's fan-out topic",
      () => register(ALICE, ownTopic(own.fanout)),
      403,
      "is one of opwatch's own topics",
    ],
    [
      "opwatch's dead-letter topic",
      () => register(ALICE, ownTopic(`${TOPICS}/${own.deadLetter}`)),
      403,
      "is one of opwatch's own topics",
    ],
    [
      "opwatch's completion-events topic",
      () => register(ALICE, ownTopic(own.completions)),
      403,
      "is one of opwatch's own topics",
    ],
    [
      'a host serving user content under WATCH_SERVICES=*',
      () =>
        register(ALICE, {
          operation: 'https://storage.googleapis.com/v1bucket/operations/x',
        }),
      403,
      'service storage.googleapis.com is not in WATCH_SERVICES',
    ],
    [
      "another identity's token in Authorization, beside the one IAM checked",
      // IAM checked Bob (X-Serverless-Authorization): the owner is Bob, whose tenant may not watch proj-a.
      () => register(ALICE, {operation: operation('proj-a').url}, BOB),
      403,
      'project proj-a is not in TENANTS.team-b.projects',
    ],
    [
      `an unauthenticated body over ${MAX_BODY_BYTES} bytes, before its token is even looked at`,
      () =>
        register(undefined, {
          operation: operation('proj-a').url,
          padding: 'x'.repeat(MAX_BODY_BYTES),
        }),
      413,
      'the body is over',
    ],
  ])('%s', async (_what, send, status, message) => {
    const before = await stored();
    const answer = await send();
    expect(answer.status).toBe(status);
    expect(answer.body.error!.message).toContain(message);
    if (status === 403)
      expect(answer.body.error!.status).toBe('PERMISSION_DENIED');
    expect(await stored()).toBe(before);
  });

  it("a tenant past its maxPending: 429, the tenant's bound named", async () => {
    const accepted = [];
    for (let n = 0; n < 8; n++) {
      const answer = await register(BOB, {
        operation: operation('proj-b').url,
        topic: topics.b,
      });
      accepted.push(answer.status);
    }
    expect(accepted).toEqual(Array(8).fill(201));
    const before = await stored();
    const over = await register(BOB, {
      operation: operation('proj-b').url,
      topic: topics.b,
    });
    expect(over.status).toBe(429);
    expect(over.body.error!.message).toContain('TENANTS.team-b.maxPending');
    expect(await stored()).toBe(before);
    const page = await get(BOB, '/operations?state=pending');
    const pending = page.body.registrations as {id: string}[];
    await Promise.all(pending.map(r => cancel(BOB, r.id)));
  });
});

describe('owners and tenants on registrations and notifications', () => {
  it('names the owner IAM checked (X-Serverless-Authorization), and its tenant', async () => {
    const answer = await register(
      CAROL,
      {operation: operation('proj-b').url, topic: topics.b},
      BOB,
    );
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({owner: BOB, tenant: 'team-b'});
  });

  it('carries owner and tenant in the data and the attributes; GET and an admin list of one tenant show them', async () => {
    const {url, name} = operation('proj-a', {kind: 'finish', afterMs: 0});
    const created = await register(ANNA, {operation: url, topic: topics.a});
    expect(created.status).toBe(201);
    const [message] = await notified('a', 1);
    expect(message.attributes).toMatchObject({
      owner: ANNA,
      tenant: 'team-a',
      operationName: name,
    });
    expect(message.data).toMatchObject({owner: ANNA, tenant: 'team-a'});

    const shown = await get(ANNA, `/operations/${created.body.id}`);
    expect(shown.body).toMatchObject({owner: ANNA, tenant: 'team-a'});
    expect((await get(BOB, `/operations/${created.body.id}`)).status).toBe(404);
    const listed = await get(ADMIN, '/operations?tenant=team-a&pageSize=100');
    expect(listed.status).toBe(200);
    const page = listed.body.registrations as {id: string; tenant: string}[];
    expect([...new Set(page.map(r => r.tenant))]).toEqual(['team-a']);
    expect(page.map(r => r.id)).toContain(created.body.id);
  });
});

it('keeps two polls of one registration at least the floor apart, even at 1 s, x1 and full jitter', async () => {
  const {url, name} = operation('proj-a');
  const answer = await register(ALICE, {
    operation: url,
    topic: topics.a,
    pollPolicy: {initialDelay: '1s', multiplier: 1, maxDelay: '5s', jitter: 1},
  });
  expect(answer.status).toBe(201);
  await stack.tick();
  const times = stack.operationsApi.requestsFor(name).map(r => r.at);
  expect(times.length).toBeGreaterThan(2);
  const gaps = times.slice(1).map((at, i) => at - times[i]);
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(MIN_POLL_INTERVAL_MS);
  await cancel(ALICE, answer.body.id);
});

it("notifies team A's quick operation promptly right after team B taught the kind a long duration", async () => {
  const kind = operationKind('firestore.googleapis.com', {
    metadata: SLOW_KIND,
  })!;
  // Each defined just before it is registered: its duration, as opwatch measures it, is LONG_MS.
  for (let n = 0; n < 6; n++) {
    const {url} = operation('proj-b', takes(LONG_MS));
    expect(
      (await register(BOB, {operation: url, topic: topics.b})).status,
    ).toBe(201);
  }
  expect(await notified('b', 6, 90_000)).toHaveLength(6);
  const history = (scope: string) =>
    new KindDurations(
      stack.firestore,
      stack.collection,
      createLogger(() => {}),
    ).model(kind, scope);
  const taught = await history('tenant team-b');
  expect(taught!.medianMs).toBeGreaterThan(LONG_MS * 0.9);
  expect(await history('tenant team-a')).toBeUndefined();

  // A poll process started now reads the kind's history afresh, as one would once its cache (a minute) ran out.
  const poller = await startPollProcess(
    functionEnv(stackAddresses(stack), {
      ...ENV,
      POLL_BUDGET_SECONDS: '8',
      POLL_LEASE_SECONDS: '8',
      POLL_REQUEST_TIMEOUT_SECONDS: '2',
    }),
  );
  try {
    // Still running at its first poll, however soon that comes: done 2 s after it.
    const quick = operation('proj-a', takes(2000, true));
    const created = await register(ALICE, {
      operation: quick.url,
      topic: topics.a,
    });
    expect(created.status).toBe(201);
    const [, [message]] = await Promise.all([
      poller.tick({timeoutMs: 30_000}),
      pullMessages(inbox.a, {count: 1, timeoutMs: 30_000}),
    ]);
    expect(message.attributes.registrationId).toBe(created.body.id);
    const data = message.data as {registeredAt: string; finishedAt: string};
    const tookMs = Date.parse(data.finishedAt) - Date.parse(data.registeredAt);
    // Team A has no history of the kind: polled as any young operation, not skipped to where team B's finish.
    const [first, second] = stack.operationsApi
      .requestsFor(quick.name)
      .map(r => r.at);
    // Skipped to where team B's finish, it would wait until most of the way to their median: 0.95 of it here.
    expect(second - first).toBeLessThan(taught!.medianMs * 0.75);
    expect(tookMs).toBeLessThan(taught!.medianMs * 0.75);
  } finally {
    await poller.stop();
  }
}, 180_000);
