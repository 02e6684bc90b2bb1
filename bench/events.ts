/**
 * Stage "events": opwatch with completion events (functions/completions/) beside its peers on the policy stage's
 * workload, simulated and in a compressed real run.
 *
 * In the real run each operation's completion entry is published to an audit topic on the Pub/Sub emulator when
 * the fake API starts answering `done`, as a Logging sink would, and a subscriber hands each message, as the
 * CloudEvent the Functions Framework makes of a push, to the real `completions` handler, wired as
 * functions/index.ts wires it, on the run's compressed clock.
 */
import type {Firestore} from '@google-cloud/firestore';
import type {PubSub, Message} from '@google-cloud/pubsub';
import {DueNow} from '../functions/completions/due-now';
import {PUBSUB_MESSAGE_PUBLISHED} from '../functions/completions/events';
import {createCompletionsHandler} from '../functions/completions/handler';
import {createLogger} from '../functions/platform/log';
import type {Poller} from '../functions/polling/poller';
import {auditEntry} from '../scripts/lib/audit-entry';
import type {CompressedClock} from './clock';
import {OPWATCH, OPWATCH_EVENTS, PEERS} from './contenders';
import {SERVICE, uniqueName} from './env';
import {evaluateFamily, type FamilyEvaluation} from './evaluation';
import {FAMILIES} from './families';
import {RETENTION_MS} from './seed';
import type {Timing} from './simulate';

/** COMPLETION_POLL_BUDGET_SECONDS' default, and the handler's recheck while another tick works. */
const COMPLETION_BUDGET_MS = 10_000;
const COMPLETION_RECHECK_MS = 500;
/** Each Firestore call's deadline, in real time. */
const FIRESTORE_TIMEOUT_MS = 15_000;

/** The figures the issue set for opwatch with completion events. */
export const EVENT_TARGETS = {delayP50S: 2, delayP99S: 5, pollsMean: 3};

/** The family the events stage runs on: opaque operations of a wide range, the case events help most. */
export const EVENTS_FAMILY = FAMILIES.find(f => f.key === 'opaque-2s-30m')!;

/** opwatch, opwatch with completion events and the peers, simulated on {@link EVENTS_FAMILY} over the seeds. */
export function simulateWithEvents(options: {
  count: number;
  windowMs: number;
  seeds: readonly number[];
  timing: Timing;
}): FamilyEvaluation {
  return evaluateFamily(EVENTS_FAMILY, options, [
    OPWATCH,
    OPWATCH_EVENTS,
    ...PEERS,
  ]);
}

/** The completions function of a real run: announce an operation's end, and stop. */
export interface CompletionEvents {
  announce(operationName: string): void;
  stop(): Promise<void>;
}

/** Starts the audit topic, its subscriber and the `completions` handler for the registrations of `collection`. */
export async function startCompletionEvents(options: {
  pubsub: PubSub;
  firestore: Firestore;
  collection: string;
  /** Makes a poller with ticks of the given budget, sharing the run's lease and clock. */
  poller: (budgetMs: number) => Poller;
  clock: CompressedClock;
}): Promise<CompletionEvents> {
  const {clock} = options;
  const handler = createCompletionsHandler({
    due: new DueNow(options.firestore, options.collection, RETENTION_MS),
    poller: options.poller(COMPLETION_BUDGET_MS),
    log: createLogger(() => {}),
    budgetMs: COMPLETION_BUDGET_MS,
    firestoreTimeoutMs: FIRESTORE_TIMEOUT_MS,
    shards: 1,
    // A real-time sleep: the handler's setTimeout does not read the clock.
    recheckMs: COMPLETION_RECHECK_MS / clock.factor,
    now: clock.now,
  });
  const topicId = uniqueName('bench-audit');
  const [topic] = await options.pubsub.createTopic(topicId);
  const [subscription] = await topic.createSubscription(`${topicId}-sub`);
  subscription.on('message', (message: Message) => {
    handler({
      specversion: '1.0',
      id: message.id,
      source: `//pubsub.googleapis.com/${topic.name}`,
      type: PUBSUB_MESSAGE_PUBLISHED,
      data: {message: {data: message.data.toString('base64')}},
    }).then(
      () => message.ack(),
      () => message.nack(),
    );
  });
  return {
    announce(name) {
      void topic.publishMessage({json: auditEntry(SERVICE, name)});
    },
    async stop() {
      await subscription.close();
      await subscription.delete();
      await topic.delete();
    },
  };
}
