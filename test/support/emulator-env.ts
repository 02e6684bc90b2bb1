/**
 * Helpers for integration tests against the emulators the global setup started (see global-setup.ts).
 *
 * Jest runs test files in parallel workers that share the two emulators, so every test names its own collections,
 * topics and subscriptions with {@link uniqueName}.
 */
import {randomBytes} from 'node:crypto';
import {protos, PubSub, Subscription, Topic, v1} from '@google-cloud/pubsub';

export {TEST_PROJECT} from './global-setup';

/** A message as a test sees it: `data` parsed as JSON (or the raw text when it is not JSON). */
export interface PulledMessage {
  data: unknown;
  attributes: Record<string, string>;
  id: string;
}

/** gRPC DEADLINE_EXCEEDED: a pull that found nothing before its own timeout. */
const DEADLINE_EXCEEDED = 4;
/** Longest single pull; short enough that the overall timeout is honoured closely. */
const MAX_PULL_MS = 2000;

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * A name no other test or worker uses: `prefix-w{worker}-{time}-{random}`. Valid as a Firestore collection id and
 * as a Pub/Sub topic or subscription id when `prefix` starts with a letter and holds only letters, digits and `-`.
 */
export function uniqueName(prefix: string): string {
  const worker = process.env.JEST_WORKER_ID ?? '0';
  return `${prefix}-w${worker}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Creates a topic and one subscription on it (short ids, in the client's project). */
export async function createTopicAndSubscription(
  pubsub: PubSub,
  topicName: string,
  subscriptionName: string,
): Promise<{topic: Topic; subscription: Subscription}> {
  const [topic] = await pubsub.createTopic(topicName);
  const [subscription] = await topic.createSubscription(subscriptionName);
  return {topic, subscription};
}

function decode(data: Uint8Array | string | null | undefined): unknown {
  const text =
    typeof data === 'string'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(data ?? []).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Pulls and acknowledges up to `count` messages, waiting at most `timeoutMs` for them. Resolves with what arrived
 * by then, possibly fewer than `count` (so `{count: 1}` resolving to `[]` proves nothing was published); the
 * caller asserts on the length.
 *
 * Synchronous pull rather than a streaming listener: it takes exactly what is asked, leaves nothing running once it
 * resolves, and never hands a message to a listener a previous test left open.
 */
export async function pullMessages(
  subscription: Subscription,
  options: {count: number; timeoutMs: number},
): Promise<PulledMessage[]> {
  // The config carries the emulator's address and insecure credentials. Its type lacks the index signature the
  // generated client's options declare, though the library documents exactly this use.
  const config = await subscription.pubsub.getClientConfig();
  const client = new v1.SubscriberClient({...config});
  const messages: PulledMessage[] = [];
  const deadline = Date.now() + options.timeoutMs;
  try {
    while (messages.length < options.count && Date.now() < deadline) {
      const timeout = Math.max(1, Math.min(MAX_PULL_MS, deadline - Date.now()));
      let received:
        protos.google.pubsub.v1.IReceivedMessage[] | null | undefined;
      try {
        [{receivedMessages: received}] = await client.pull(
          {
            subscription: subscription.name,
            maxMessages: options.count - messages.length,
          },
          {timeout, retry: null},
        );
      } catch (error) {
        if ((error as {code?: number}).code === DEADLINE_EXCEEDED) continue;
        throw error;
      }
      if (!received?.length) {
        await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
        continue;
      }
      await client.acknowledge({
        subscription: subscription.name,
        ackIds: received.map(m => m.ackId ?? ''),
      });
      for (const {message} of received) {
        messages.push({
          data: decode(message?.data),
          attributes: {...(message?.attributes ?? {})},
          id: message?.messageId ?? '',
        });
      }
    }
  } finally {
    await client.close();
  }
  return messages;
}
