/**
 * Proves the global setup's emulators are up and that clients reach them through the environment alone.
 */
import {Firestore} from '@google-cloud/firestore';
import {PubSub} from '@google-cloud/pubsub';
import {
  TEST_PROJECT,
  createTopicAndSubscription,
  pullMessages,
  uniqueName,
} from './emulator-env';

describe('emulators from the global setup', () => {
  let firestore: Firestore;
  let pubsub: PubSub;

  beforeAll(() => {
    firestore = new Firestore();
    pubsub = new PubSub();
  });

  afterAll(async () => {
    await firestore.terminate();
    await pubsub.close();
  });

  it('points the clients at local emulators in a demo project', () => {
    expect(process.env.FIRESTORE_EMULATOR_HOST).toMatch(
      /^(127\.0\.0\.1|localhost):\d+$/,
    );
    expect(process.env.PUBSUB_EMULATOR_HOST).toMatch(
      /^(127\.0\.0\.1|localhost):\d+$/,
    );
    expect(process.env.GOOGLE_CLOUD_PROJECT).toBe(TEST_PROJECT);
  });

  it('writes and reads a Firestore document', async () => {
    const doc = firestore.collection(uniqueName('emulator-check')).doc('one');
    await doc.set({hello: 'world', n: 1});
    const snapshot = await doc.get();
    expect(snapshot.data()).toEqual({hello: 'world', n: 1});
  });

  it('publishes a message and pulls it back from a subscription', async () => {
    const {topic, subscription} = await createTopicAndSubscription(
      pubsub,
      uniqueName('emulator-check'),
      uniqueName('emulator-check-sub'),
    );
    const id = await topic.publishMessage({
      json: {outcome: 'succeeded'},
      attributes: {kind: 'check'},
    });

    const messages = await pullMessages(subscription, {
      count: 1,
      timeoutMs: 10_000,
    });
    expect(messages).toEqual([
      {data: {outcome: 'succeeded'}, attributes: {kind: 'check'}, id},
    ]);
    // Acknowledged: nothing comes back.
    expect(
      await pullMessages(subscription, {count: 1, timeoutMs: 1000}),
    ).toEqual([]);
  });
});
