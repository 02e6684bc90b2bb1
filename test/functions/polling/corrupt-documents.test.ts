/**
 * Malformed stored documents never stop the poller, and end loudly: documents broken in every way planted among
 * good ones, and the real `poll` function in a process of its own. Every good registration is notified; every
 * malformed one, due or hidden from the due query, ends `poll_error` (`pollError.kind: "corrupt"`) unnotified, with
 * its id and the parse error on DEAD_LETTER_TOPIC; every tick answers 200, and the process never exits.
 */
import {FieldValue, Timestamp} from '@google-cloud/firestore';
import {PubSub, type Subscription} from '@google-cloud/pubsub';
import {
  TEST_PROJECT,
  createTopicAndSubscription,
  pullMessages,
  uniqueName,
  type PulledMessage,
} from '../../support/emulator-env';
import {
  startStackWithPoller,
  type StackWithPoller,
  type TestStack,
} from '../../support/stack';
import type {SpawnedFunction} from '../../support/poll-process';

const GOOD = 12;
const API = 'https://firestore.googleapis.com/v1';

/** Ways a stored registration can be broken that still leave it due (`state == "pending"`, a Timestamp `nextPollAt`). */
const DUE_BUT_BROKEN: Record<string, Record<string, unknown>> = {
  'no labels': {labels: FieldValue.delete()},
  'no createdAt': {createdAt: FieldValue.delete()},
  'createdAt a number': {createdAt: Number.NaN},
  'labels a string': {labels: 'team=data'},
  'operation a string': {operation: 'projects/p/operations/x'},
  'operation without url': {'operation.url': FieldValue.delete()},
  'lastOperation not JSON': {lastOperation: '{"name": '},
  'attempts a string': {attempts: 'three'},
  'unknown style': {style: 'smoke-signals'},
  'unknown error kind': {lastError: {kind: 'gremlins', message: 'x'}},
  'topic a number': {topic: 42},
  'deadline a string': {deadline: 'tomorrow'},
};

/** Broken so the due query cannot see them: the sweep finds them; they must not stop a tick either. */
const HIDDEN: Record<string, Record<string, unknown>> = {
  'nextPollAt NaN': {nextPollAt: Number.NaN},
  'nextPollAt a string': {nextPollAt: 'soon'},
  'bucket a string': {bucket: 'seven'},
};

let running: StackWithPoller;
let stack: TestStack;
let poller: SpawnedFunction;
let pubsub: PubSub;
let deadLetters: Subscription;

beforeAll(async () => {
  const deadLetter = uniqueName('dead-letter');
  pubsub = new PubSub({projectId: TEST_PROJECT});
  ({subscription: deadLetters} = await createTopicAndSubscription(
    pubsub,
    deadLetter,
    `${deadLetter}-sub`,
  ));
  running = await startStackWithPoller({
    POLL_BUDGET_SECONDS: '6',
    POLL_LEASE_SECONDS: '4',
    POLL_REQUEST_TIMEOUT_SECONDS: '2',
    DEAD_LETTER_TOPIC: deadLetter,
  });
  ({stack, poller} = running);
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await pubsub?.close();
});

let serial = 0;
/** Registers an operation that is done at once; resolves with the registration id. */
async function register(): Promise<string> {
  const name = `projects/p/databases/(default)/operations/corrupt-${Date.now()}-${++serial}`;
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
  const response = await stack.register({operation: `${API}/${name}`});
  expect(response.status).toBe(201);
  return response.body.id as string;
}

it('malformed documents among good ones: the good all notified, the malformed ones (due or hidden) end corrupt and dead-lettered, the process stays up', async () => {
  const doc = (id: string) =>
    stack.firestore.collection(stack.collection).doc(id);
  const good = new Set<string>();
  const broken = new Map<string, string>();
  const hidden = new Map<string, string>();
  for (const [kind, fields] of Object.entries({...DUE_BUT_BROKEN, ...HIDDEN})) {
    good.add(await register());
    const id = await register();
    await doc(id).update(fields);
    (kind in HIDDEN ? hidden : broken).set(id, kind);
  }
  while (good.size < GOOD) good.add(await register());
  // A document with nothing but what makes it due (its shard bucket among that).
  const bare = doc(`bare${Date.now()}`);
  await bare.set({state: 'pending', bucket: 0, nextPollAt: Timestamp.now()});
  broken.set(bare.id, 'bare');

  const messages: PulledMessage[] = [];
  const notified = () =>
    new Set(messages.map(m => m.attributes.registrationId));
  let corrupt = 0;
  const deadline = Date.now() + 45_000;
  while (notified().size < good.size && Date.now() < deadline) {
    const answer = await poller.tick({timeoutMs: 20_000});
    expect(answer.status).toBe(200);
    corrupt += (answer.body as {corrupt: number}).corrupt;
    messages.push(...(await stack.pull(good.size, 1000)));
  }
  messages.push(...(await stack.pull(good.size, 1000)));

  expect([...notified()].sort()).toEqual([...good].sort());
  expect(corrupt).toBe(broken.size + hidden.size);
  for (const [id, kind] of [...broken, ...hidden]) {
    const stored = await doc(id).get();
    expect({kind, state: stored.get('state')}).toEqual({
      kind,
      state: 'poll_error',
    });
    expect(stored.get('lastError')).toMatchObject({
      kind: 'corrupt',
      message: expect.stringMatching(
        /^(stored document unreadable|hidden from the poller)/,
      ),
    });
    expect(stored.get('expireAt')).toBeInstanceOf(Timestamp);
  }
  const reports = await pullMessages(deadLetters, {
    count: broken.size + hidden.size,
    timeoutMs: 10_000,
  });
  const reported = new Map(
    reports.map(report => [report.attributes.registrationId, report]),
  );
  for (const [id, kind] of [...broken, ...hidden]) {
    expect({kind, report: reported.get(id)}).toEqual({
      kind,
      report: expect.objectContaining({
        attributes: {deadLetter: 'corrupt', registrationId: id},
        data: expect.objectContaining({
          registrationId: id,
          problem: expect.stringMatching(
            hidden.has(id)
              ? /^hidden from the poller/
              : /^stored document unreadable/,
          ),
        }),
      }),
    });
  }
  expect(reports).toHaveLength(broken.size + hidden.size);
  const log = poller.output.map(line => line.text).join('\n');
  expect(log).not.toContain('tick failed');
  expect(log).not.toContain('poll failed');
  expect(poller.unexpectedExits).toEqual([]);
});
