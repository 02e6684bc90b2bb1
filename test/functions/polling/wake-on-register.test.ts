/**
 * End to end, with no Cloud Scheduler call at all: a registration made while no tick runs publishes a wake to the
 * poll fan-out topic on the Pub/Sub emulator, whose push subscription calls the real `poll` function, which polls
 * the operation and notifies. As deployed, where the same push subscription serves the fan-out.
 */
import type {AddressInfo} from 'node:net';
import type {Server} from 'node:http';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import {PubSub, type Subscription} from '@google-cloud/pubsub';
import {
  TEST_PROJECT,
  pullMessages,
  uniqueName,
} from '../../support/emulator-env';
import {startStack, type TestStack} from '../../support/stack';

const API = 'https://firestore.googleapis.com/v1';

let stack: TestStack;
let pollServer: Server;
let pubsub: PubSub;
/** A second subscription on the fan-out topic: what was published there. */
let wakes: Subscription;

beforeAll(async () => {
  const fanout = uniqueName('fanout');
  stack = await startStack({POLL_FANOUT_TOPIC: fanout});
  // Made once the stack's metadata stand-in is in place: google-auth-library remembers whether it found one.
  pubsub = new PubSub({projectId: TEST_PROJECT});
  const [topic] = await pubsub.createTopic(fanout);
  [wakes] = await topic.createSubscription(`${fanout}-recorded`);
  pollServer = getTestServer('poll');
  await new Promise<void>(resolve =>
    pollServer.listen(0, '127.0.0.1', resolve),
  );
  const {port} = pollServer.address() as AddressInfo;
  await topic.createSubscription(`${fanout}-push`, {
    pushConfig: {pushEndpoint: `http://127.0.0.1:${port}/`},
  });
});

afterAll(async () => {
  await new Promise(resolve => pollServer.close(resolve));
  await pubsub.close();
  await stack.stop();
});

let serial = 0;
async function register(): Promise<{name: string; id: string}> {
  const name = `projects/p/databases/(default)/operations/woken-${Date.now()}-${++serial}`;
  stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
  const response = await stack.register({operation: `${API}/${name}`});
  expect(response.status).toBe(201);
  return {name, id: response.body.id as string};
}

it('a registration made while no tick runs is polled and notified by the tick its wake starts', async () => {
  const {name, id} = await register();
  const [message] = await stack.pull(1, 30_000);
  expect(message.attributes).toMatchObject({
    registrationId: id,
    outcome: 'succeeded',
  });
  expect(stack.operationsApi.requestsFor(name).length).toBeGreaterThan(0);
  const published = await pullMessages(wakes, {count: 1, timeoutMs: 5000});
  expect(published.map(wake => wake.data)).toEqual([{shard: 0, wake: true}]);

  // That tick has ended (nothing was left due) and the lease has changed since: the next registration wakes
  // another.
  const next = await register();
  const [second] = await stack.pull(1, 30_000);
  expect(second.attributes.registrationId).toBe(next.id);
});
