/**
 * Every watch ends: a notification Pub/Sub keeps refusing (its topic does not exist) ends the watch `undeliverable`
 * once the deadline plus PUBLISH_GRACE_SECONDS has passed, with the notification on DEAD_LETTER_TOPIC, one error
 * line, and the retries' warnings rate-limited.
 */
import {PubSub, type Subscription} from '@google-cloud/pubsub';
import {
  TEST_PROJECT,
  createTopicAndSubscription,
  pullMessages,
  uniqueName,
} from '../../support/emulator-env';
import {startStack, type TestStack} from '../../support/stack';

const API = 'https://firestore.googleapis.com/v1';

let stack: TestStack;
let pubsub: PubSub;
let deadLetters: Subscription;
const lines: Array<
  {severity: string; message: string} & Record<string, unknown>
> = [];
const realWrite = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  const deadLetter = uniqueName('dead-letter');
  stack = await startStack({
    PUBLISH_GRACE_SECONDS: '1',
    DEAD_LETTER_TOPIC: deadLetter,
  });
  // After the stack: a client made earlier would look for the metadata server before it stands in.
  pubsub = new PubSub({projectId: TEST_PROJECT});
  ({subscription: deadLetters} = await createTopicAndSubscription(
    pubsub,
    deadLetter,
    `${deadLetter}-sub`,
  ));
  // The functions log JSON lines to standard output: keep them to count.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    for (const line of String(chunk).split('\n')) {
      if (line.startsWith('{"severity"')) lines.push(JSON.parse(line));
    }
    return realWrite(chunk, ...rest);
  }) as typeof process.stdout.write;
});

afterAll(async () => {
  process.stdout.write = realWrite;
  await stack.stop();
  await pubsub.close();
});

it('a topic Pub/Sub keeps refusing: undeliverable after the deadline and the grace, dead-lettered, logged once', async () => {
  const name = `projects/p/databases/(default)/operations/lost-${Date.now()}`;
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
  const missing = `projects/${TEST_PROJECT}/topics/${uniqueName('deleted')}`;
  const registered = await stack.register({
    operation: `${API}/${name}`,
    topic: missing,
    timeout: '2s',
  });
  expect(registered.status).toBe(201);
  const id = registered.body.id as string;
  const stored = () =>
    stack.firestore.collection(stack.collection).doc(id).get();

  let undeliverable = 0;
  for (
    let tick = 0;
    tick < 4 && (await stored()).get('state') === 'pending';
    tick++
  ) {
    const answer = await stack.tick();
    expect(answer.status).toBe(200);
    undeliverable += answer.body.undeliverable as number;
  }

  const document = await stored();
  expect(document.get('state')).toBe('undeliverable');
  expect(undeliverable).toBe(1);
  expect(document.get('lastError')).toMatchObject({
    kind: 'publish',
    message: expect.stringContaining(`publishing to ${missing} failed`),
  });
  expect(document.get('finishedAt').toMillis()).toBeGreaterThanOrEqual(
    Date.parse(registered.body.createdAt) + 3000,
  );
  expect(document.get('expireAt').toMillis()).toBeGreaterThan(
    Date.now() + 29 * 86_400_000,
  );

  const [message] = await pullMessages(deadLetters, {
    count: 1,
    timeoutMs: 10_000,
  });
  expect(message.attributes).toMatchObject({
    outcome: 'succeeded',
    registrationId: id,
    topic: missing,
    publishError: expect.stringContaining(`publishing to ${missing} failed`),
  });
  expect(message.data).toMatchObject({
    registrationId: id,
    outcome: 'succeeded',
  });

  const mine = lines.filter(
    line =>
      line.registrationId === id || String(line.message).includes(missing),
  );
  const retries = mine.filter(line => line.severity === 'WARNING');
  const ended = mine.filter(line => line.severity === 'ERROR');
  // Several publishes failed before the grace ran out, but one warning line said so.
  expect(document.get('attempts')).toBeGreaterThan(1);
  expect(retries).toHaveLength(1);
  expect(ended).toEqual([
    expect.objectContaining({
      message: 'watch ended undeliverable',
      topic: missing,
      deadLettered: true,
    }),
  ]);
});
