/**
 * Prints opwatch notifications as they arrive on a local subscription: one summary line, then the payload.
 */
import type {Message, PubSub, Subscription} from '@google-cloud/pubsub';

/** Creates the topic and the subscription unless they exist. */
export async function ensureTopicAndSubscription(
  pubsub: PubSub,
  topicName: string,
  subscriptionName: string,
): Promise<Subscription> {
  const topic = pubsub.topic(topicName);
  const [topicExists] = await topic.exists();
  if (!topicExists) await topic.create();
  const subscription = topic.subscription(subscriptionName);
  const [subscriptionExists] = await subscription.exists();
  if (!subscriptionExists) await subscription.create();
  return subscription;
}

/**
 * The summary line. The attributes carry what subscribers route on (outcome, registrationId, operationName); the
 * payload is the fallback, so a message from an older or newer publisher still prints something useful.
 */
export function describeNotification(
  attributes: Record<string, string>,
  payload: unknown,
): string {
  const data = (
    payload && typeof payload === 'object' ? payload : {}
  ) as Record<string, unknown>;
  const operation = data.operation as {name?: unknown} | undefined;
  const pick = (...values: unknown[]) =>
    values.find(value => typeof value === 'string' && value !== '') ?? '?';
  const outcome = pick(attributes.outcome, data.outcome);
  const id = pick(attributes.registrationId, data.registrationId);
  const name = pick(
    attributes.operationName,
    operation?.name,
    data.operationUrl,
  );
  return `${outcome}  registration ${id}  ${name}`;
}

/**
 * Listens on `subscription`, printing and acknowledging every message until the returned function is called.
 */
export function printNotifications(
  subscription: Subscription,
  log: (line: string) => void,
): () => Promise<void> {
  subscription.on('message', (message: Message) => {
    const text = message.data.toString('utf8');
    let payload: unknown = text;
    try {
      payload = JSON.parse(text);
    } catch {
      // printed as text below
    }
    const body =
      typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2);
    log(`${describeNotification(message.attributes, payload)}\n${body}`);
    message.ack();
  });
  subscription.on('error', error =>
    log(`subscription error: ${(error as Error).message}`),
  );
  // Listeners stay attached: an error emitted while closing must still find its handler.
  return () => subscription.close();
}
