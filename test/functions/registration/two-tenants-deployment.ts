/**
 * The deployment two-tenants.test.ts runs on: one registration function process, as deployed, shared by two teams
 * (TENANTS) and an admin, with ID tokens minted by the test against a certificate stand-in, and the poller in the
 * test's process; and the calls the tests make of it. Importing it starts the deployment before the file's tests
 * and stops it after them.
 */
import {PubSub, type Subscription} from '@google-cloud/pubsub';
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
  type Answer,
  type SpawnedFunction,
} from '../../support/poll-process';
import {stackAddresses, startStack, type TestStack} from '../../support/stack';

const AUDIENCE = 'https://us-central1-demo-opwatch.cloudfunctions.net/ops';
export const ALICE = 'alice@a.example';
export const ANNA = 'anna@a-team.example';
export const BOB = 'bob@b.example';
export const CAROL = 'carol@nowhere.example';
export const ADMIN = 'oncall@platform.example';
const FIRESTORE = 'https://firestore.googleapis.com/v1';
export const TOPICS = `projects/${TEST_PROJECT}/topics`;
/** Metadata of one kind, without progress, so only its history can inform the forecast. */
export const SLOW_KIND = {
  '@type': 'type.googleapis.com/opwatch.test.ReindexMetadata',
  verb: 'reindex',
};
/** How long team B's operations of that kind take. */
export const LONG_MS = 15_000;

/**
 * An operation of that kind, done `ms` after it is defined (or after its first poll, `fromFirstPoll`), reporting
 * its end time as Google's operations do: what opwatch learns is then the operation's own duration.
 */
export function takes(ms: number, fromFirstPoll = false) {
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

export const own = {
  fanout: uniqueName('opwatch-fanout'),
  deadLetter: uniqueName('opwatch-dead'),
  completions: uniqueName('opwatch-audit'),
};
/** The configuration both functions share. */
export const ENV = {
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
      admins: [ALICE],
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

export let stack: TestStack;
let operations: SpawnedFunction;
let identity: GoogleIdentityServer;
let pubsub: PubSub;
export const topics = {a: uniqueName('team-a'), b: uniqueName('team-b')};
export const inbox: Record<'a' | 'b', Subscription> = {} as never;
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
export type Body = Record<string, unknown> & Partial<Failure>;

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

export const register = (
  email: string | undefined,
  body: object,
  serverless?: string,
) => call('POST', '/operations', {email, serverless, body});
export const get = (email: string, path: string) => call('GET', path, {email});
export const cancel = (email: string, id: unknown) =>
  call('DELETE', `/operations/${String(id)}`, {email});

/** An operation of `project`, defined on the fake API as `behavior` says. */
export function operation(
  project: string,
  behavior: Parameters<TestStack['operationsApi']['define']>[1] = {
    kind: 'never',
  },
): {name: string; url: string} {
  const name = `projects/${project}/databases/(default)/operations/t-${Date.now()}-${++serial}`;
  stack.operationsApi.define(name, behavior);
  return {name, url: `${FIRESTORE}/${name}`};
}

export async function stored(): Promise<number> {
  const snapshot = await stack.firestore
    .collection(stack.collection)
    .count()
    .get();
  return snapshot.data().count;
}

/** Ticks until `count` notifications arrived on team `team`'s topic, or `timeoutMs` passed. */
export async function notified(
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
