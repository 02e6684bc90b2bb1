/**
 * The publisher: sends notifications to Pub/Sub and resolves only once Pub/Sub has accepted them, which is what
 * lets the poller mark a registration finished without ever losing its notification.
 */
import {PubSub, type Topic} from '@google-cloud/pubsub';
import {LRUCache} from 'lru-cache';

/**
 * The longest one publish may take, retries included, before the poller gives up and tries again later. A
 * shorter lease shortens it (see leaseTimings in polling/lease-timings.ts).
 */
export const PUBLISH_TIMEOUT_MS = 20_000;
/** How long one attempt of a publish may take, at most. */
const PUBLISH_ATTEMPT_TIMEOUT_MS = 5_000;

/** A Pub/Sub message: a notification, or a fan-out message of the poll function. */
export interface OutgoingMessage {
  data: Buffer;
  attributes: Record<string, string>;
}
/** Topic handles kept: one per topic in use, least recently used dropped first (after sending what it holds). */
const MAX_TOPICS = 1000;

/** Sends notifications. */
export interface NotificationSink {
  /** Resolves with the message id once Pub/Sub accepted the message. */
  publish(topic: string, message: OutgoingMessage): Promise<string>;
}

/** Publishes to Pub/Sub topics, one batching publisher per topic. */
export class PubSubPublisher implements NotificationSink {
  private readonly topics = new LRUCache<string, Topic>({
    max: MAX_TOPICS,
    dispose: topic => void topic.flush().catch(() => undefined),
  });

  private readonly attemptTimeoutMs: number;

  /** `timeoutMs` bounds each publish, retries included. */
  constructor(
    private readonly pubsub: PubSub,
    private readonly timeoutMs = PUBLISH_TIMEOUT_MS,
  ) {
    this.attemptTimeoutMs = Math.min(PUBLISH_ATTEMPT_TIMEOUT_MS, timeoutMs);
  }

  publish(topicName: string, message: OutgoingMessage): Promise<string> {
    let topic = this.topics.get(topicName);
    if (!topic) {
      topic = this.pubsub.topic(topicName, {
        // A short window: many finished operations share a request, none waits long for it.
        batching: {maxMessages: 100, maxMilliseconds: 5},
        gaxOpts: {
          timeout: this.timeoutMs,
          retry: {
            // google-gax takes these settings as a whole: without the attempt timeouts, the first attempt has no
            // deadline and every retry a deadline of 0 ms, so after one failure a publish cannot succeed (a 3 s
            // outage failed 40 of 60 publishes, some sent after it ended).
            backoffSettings: {
              initialRetryDelayMillis: 100,
              retryDelayMultiplier: 2,
              maxRetryDelayMillis: 5_000,
              initialRpcTimeoutMillis: this.attemptTimeoutMs,
              rpcTimeoutMultiplier: 1,
              maxRpcTimeoutMillis: this.attemptTimeoutMs,
              totalTimeoutMillis: this.timeoutMs,
            },
          },
        },
      });
      this.topics.set(topicName, topic);
    }
    return topic.publishMessage({
      data: message.data,
      attributes: message.attributes,
    });
  }

  /** Sends what is batched and releases the clients. */
  async close(): Promise<void> {
    await Promise.all([...this.topics.values()].map(topic => topic.flush()));
    await this.pubsub.close();
  }
}
