/**
 * `opwatch tail`: prints notifications as they arrive, one line each (one JSON object per line with --json),
 * from a subscription, or from a temporary one on the notification topic that is deleted on exit.
 */
import type {PubSub} from '@google-cloud/pubsub';
import {CliError, EXIT} from './exit-codes';
import type {Output} from './output';
import {
  DEFAULT_TOPIC_ID,
  createTemporarySubscription,
  listen,
  resolveTopic,
  type ReceivedMessage,
} from './pubsub';

/** What `tail` reads and for how long. */
export interface TailOptions {
  pubsub: PubSub;
  output: Output;
  /** An existing subscription (id in the client's project, or full name). */
  subscription?: string;
  /** Otherwise a temporary subscription on this topic (default opwatch-notifications). */
  topic?: string;
  project?: string;
  /** Stop after this many messages. */
  count?: number;
  signal: AbortSignal;
}

/** The line for one notification: time, outcome, registration, operation, and the error code of a failure. */
export function notificationLine(message: ReceivedMessage): string {
  const data = (
    typeof message.data === 'object' && message.data ? message.data : {}
  ) as Record<string, unknown>;
  const attributes = message.attributes;
  const pick = (...values: unknown[]) =>
    values.find(value => typeof value === 'string' && value !== '') ?? '?';
  const outcome = pick(attributes.outcome, data.outcome);
  const code = attributes.errorCode ? ` (code ${attributes.errorCode})` : '';
  return [
    message.publishTime,
    `${String(outcome).padEnd(10)}`,
    pick(attributes.registrationId, data.registrationId),
    `${pick(attributes.operationName, data.operationUrl)}${code}`,
  ].join('  ');
}

/** Streams notifications until `count` arrived, the signal aborts, or the subscription fails. */
export async function tail(options: TailOptions): Promise<void> {
  const {pubsub, output} = options;
  let cleanUp = async () => {};
  let subscription;
  if (options.subscription) {
    subscription = pubsub.subscription(options.subscription);
  } else {
    const topic = resolveTopic(
      options.topic ?? DEFAULT_TOPIC_ID,
      options.project,
    );
    if (!topic) {
      throw new CliError(
        'tail: give --subscription, a full --topic (projects/P/topics/T), or --project',
        EXIT.usage,
      );
    }
    const temporary = await createTemporarySubscription(
      pubsub,
      topic,
      'opwatch-tail',
    );
    subscription = temporary.subscription;
    cleanUp = () => temporary.delete();
    output.note(
      `listening on ${subscription.name} (temporary, deleted on exit) for ${topic}`,
    );
  }

  let received = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const stop = listen(
        subscription,
        message => {
          if (options.count !== undefined && received >= options.count)
            return false;
          received++;
          output.line(message, () => notificationLine(message));
          if (options.count !== undefined && received >= options.count)
            void stop().then(resolve, resolve);
          return true;
        },
        error => void stop().finally(() => reject(error)),
      );
      options.signal.addEventListener(
        'abort',
        () => void stop().then(resolve, resolve),
        {once: true},
      );
    });
  } finally {
    await cleanUp();
  }
}
