/**
 * The Pub/Sub side of the CLI: naming topics, temporary subscriptions for `wait` and `tail`, and listening.
 *
 * A temporary subscription expires by itself a day after it was last used (the shortest expiration Pub/Sub
 * allows) and keeps messages for 10 minutes, so one left behind by a killed CLI costs nothing for long. The CLI
 * deletes its own on the way out, Ctrl-C included.
 */
import {randomBytes} from 'node:crypto';
import {PubSub, type Message, type Subscription} from '@google-cloud/pubsub';
import {fullTopicName} from '../functions/core/config';

/** The topic the deployment (and the local stack) publishes to unless a registration names another. */
export const DEFAULT_TOPIC_ID = 'opwatch-notifications';

/** A Pub/Sub client for `project` (or, when undefined, the project of the environment or ADC). */
export function pubsubClient(project?: string): PubSub {
  return new PubSub(project ? {projectId: project} : {});
}

/** The project of a full topic name, `projects/P/topics/T`. */
export function topicProject(topic: string): string | undefined {
  return /^projects\/([^/]+)\/topics\/[^/]+$/.exec(topic)?.[1];
}

/** `topic` as a full name, a short id taken to be in `project`; undefined when neither works. */
export function resolveTopic(
  topic: string,
  project: string | undefined,
): string | undefined {
  if (topicProject(topic)) return topic;
  return project ? fullTopicName(topic, project) : undefined;
}

/** The project from the flag or the environment, as the Google Cloud client libraries read it. */
export function projectFromEnv(flag?: string): string | undefined {
  return (
    flag ?? (process.env.GOOGLE_CLOUD_PROJECT || process.env.GCLOUD_PROJECT)
  );
}

/** A subscription the CLI created and deletes when done. */
export interface TemporarySubscription {
  subscription: Subscription;
  delete(): Promise<void>;
}

/**
 * Creates a temporary subscription on `topic` (a full name), in the client's project, receiving only messages
 * that match `filter` (Pub/Sub's filter syntax) when given.
 */
export async function createTemporarySubscription(
  pubsub: PubSub,
  topic: string,
  prefix: string,
  filter?: string,
): Promise<TemporarySubscription> {
  const name = `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const [subscription] = await pubsub.topic(topic).createSubscription(name, {
    ...(filter && {filter}),
    ackDeadlineSeconds: 60,
    messageRetentionDuration: {seconds: 600},
    expirationPolicy: {ttl: {seconds: 86_400}},
  });
  let deleted: Promise<void> | undefined;
  return {
    subscription,
    delete() {
      deleted ??= subscription
        .close()
        .then(() => subscription.delete())
        .then(
          () => undefined,
          () => undefined,
        );
      return deleted;
    },
  };
}

/** A message as the CLI hands it on: data parsed as JSON when it is JSON. */
export interface ReceivedMessage {
  id: string;
  publishTime: string;
  attributes: Record<string, string>;
  data: unknown;
}

/**
 * Streams `subscription`'s messages to `onMessage`, acknowledging each after it returns, unless it returns false
 * (the message was not taken: Pub/Sub redelivers it, to this or another subscriber); `onError` gets the stream's
 * errors (e.g. permission denied). Returns a function that stops listening.
 */
export function listen(
  subscription: Subscription,
  onMessage: (message: ReceivedMessage) => boolean | void,
  onError: (error: Error) => void,
): () => Promise<void> {
  const handle = (message: Message) => {
    const text = message.data.toString('utf8');
    let data: unknown = text;
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON: handed on as text.
    }
    const taken = onMessage({
      id: message.id,
      publishTime: message.publishTime.toISOString(),
      attributes: {...message.attributes},
      data,
    });
    if (taken === false) message.nack();
    else message.ack();
  };
  subscription.on('message', handle);
  subscription.on('error', onError);
  return async () => {
    subscription.removeListener('message', handle);
    await subscription.close();
  };
}
