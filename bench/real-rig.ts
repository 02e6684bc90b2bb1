/**
 * The rig of a compressed real run (real-run.ts): its notification topic and subscription, and opwatch's parts
 * wired as functions/index.ts wires them (the poller with the forecaster and the learned durations, the store, the
 * tick wake, completion events when a contender has them), on a clock running F times faster, with the fake API
 * answering at the API's latency divided by F. The page query and the poll are timed: what compression cannot
 * shrink.
 */
import {PubSub, type Subscription, type Topic} from '@google-cloud/pubsub';
import {DEFAULT_PUBLISH_GRACE_SECONDS} from '../functions/core/config';
import {parseAllowlists} from '../functions/core/allowlists';
import {KindDurations} from '../functions/forecast/kind-durations';
import {OperationsClient} from '../functions/google/operations-client';
import {
  PubSubPublisher,
  type NotificationSink,
} from '../functions/notify/publisher';
import {createLogger, type Logger} from '../functions/platform/log';
import {DueRegistrations} from '../functions/polling/due-registrations';
import {PollLease} from '../functions/polling/lease';
import {Poller} from '../functions/polling/poller';
import type {TickTrigger} from '../functions/polling/tick-context';
import {TickWake} from '../functions/polling/tick-wake';
import {RegistrationStore} from '../functions/registration/store';
import type {ValidationContext} from '../functions/registration/validation';
import type {CompressedClock} from './clock';
import type {Contender} from './contenders';
import {PROJECT, SERVICE, uniqueName, type BenchEnv} from './env';
import {startCompletionEvents, type CompletionEvents} from './events';
import {RETENTION_MS} from './seed';
import type {Job} from './jobs';
import type {Timing} from './simulate';

/** The poller's lease, in real time: ticks here never overlap, and a shorter one would only add lease writes. */
const LEASE_MS = 15_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** What a real run is asked to run (real-run.ts): every contender on the same jobs, each with its own state. */
export interface RealRunOptions {
  contenders: readonly Contender[];
  jobs: readonly Job[];
  windowMs: number;
  factor: number;
  /** The API host the operations come from: its preset, if any, gives the forecaster a prior. */
  service?: string;
  latencyMs: number;
  /** The runtime's settings, as deployed (bench/deployed.ts). */
  timing: Timing;
  seed: number;
  log: (line: string) => void;
}

/**
 * One opwatch contender's deployment in a run: its own collection (so its own registrations, lease and learned
 * durations), topic and subscription, the real poller and store, and what it records.
 */
export interface Rig {
  env: BenchEnv;
  options: RealRunOptions;
  contender: Contender;
  service: string;
  clock: CompressedClock;
  topic: Topic;
  subscription: Subscription;
  /** The poller's own Pub/Sub client, closed at the end. */
  publisherClient: PubSub;
  context: ValidationContext;
  store: RegistrationStore;
  poller: Poller;
  wake: TickWake;
  ticks: Ticks;
  /** Present when a contender has completion events. */
  events?: CompletionEvents;
  /** The real milliseconds each page query, each poll and each publish took. */
  queryMs: number[];
  pollMs: number[];
  publishMs: number[];
  /** When each job's operation is done, on the run's clock, by job index. */
  doneAt: Map<number, number>;
  /** When Pub/Sub accepted each registration's first notification, on the run's clock, by registration id. */
  acceptedAt: Map<string, number>;
  /** The completion entries still to be announced. */
  announcements: NodeJS.Timeout[];
}

/**
 * `contender`'s topic, subscription and collection, and opwatch's parts wired as functions/index.ts wires them, on
 * the run's compressed clock.
 */
export async function setUp(
  env: BenchEnv,
  options: RealRunOptions,
  contender: Contender,
  clock: CompressedClock,
): Promise<Rig> {
  const {factor} = options;
  // Completion entries exist only for services whose preset announces them; a contender with completion events
  // polls by its own policy, so the service's prior is no help it gets.
  const service = contender.events ? SERVICE : (options.service ?? SERVICE);
  const collection = uniqueName(`bench-${contender.key}`);
  const topicId = uniqueName(`bench-${contender.key}`);
  const [topic] = await env.pubsub.createTopic(topicId);
  const [subscription] = await topic.createSubscription(`${topicId}-sub`);
  const endpointOverrides = new Map([[service, env.fake.baseUrl]]);
  const timed = timedClients(env, collection, endpointOverrides);
  const publisherClient = new PubSub({projectId: PROJECT});
  const log = createLogger(() => {});
  const acceptedAt = new Map<string, number>();
  const publishMs: number[] = [];
  const makePoller = pollerFactory(env, {
    ...timed,
    collection,
    service,
    clock,
    sink: acceptanceRecorder(new PubSubPublisher(publisherClient), clock, {
      acceptedAt,
      publishMs,
    }),
    concurrency: options.timing.concurrency,
    log,
  });
  const poller = makePoller(options.timing.budgetMs);
  const events = contender.events
    ? await startCompletionEvents({
        pubsub: env.pubsub,
        firestore: env.firestore,
        collection,
        poller: makePoller,
        clock,
      })
    : undefined;
  const ticks = new Ticks(poller);
  return {
    env,
    options,
    contender,
    service,
    clock,
    topic,
    subscription,
    publisherClient,
    context: {projectId: PROJECT, defaultTopic: topic.name, endpointOverrides},
    store: new RegistrationStore(env.firestore, collection, RETENTION_MS),
    poller,
    wake: tickWake(env, {
      collection,
      clock,
      ticks,
      wakeDelayMs: options.timing.wakeDelayMs / factor,
      log,
    }),
    ticks,
    events,
    queryMs: timed.queryMs,
    pollMs: timed.pollMs,
    publishMs,
    doneAt: new Map(),
    acceptedAt,
    announcements: [],
  };
}

/**
 * The poller's sink, noting when Pub/Sub accepted each registration's first notification (the end of every
 * contender's delay, as in the simulation) and how long each publish took in real time.
 */
function acceptanceRecorder(
  sink: NotificationSink,
  clock: CompressedClock,
  into: {acceptedAt: Map<string, number>; publishMs: number[]},
): NotificationSink {
  const {acceptedAt} = into;
  return {
    async publish(topic, message) {
      const began = performance.now();
      const id = await sink.publish(topic, message);
      into.publishMs.push(performance.now() - began);
      const registration = message.attributes.registrationId;
      if (registration !== undefined && !acceptedAt.has(registration))
        acceptedAt.set(registration, clock.now());
      return id;
    },
  };
}

/**
 * The poller's page query and operations client, each call timed: timing proxies for what the compressed run
 * cannot compress.
 */
function timedClients(
  env: BenchEnv,
  collection: string,
  endpointOverrides: Map<string, string>,
) {
  const due = new DueRegistrations(env.firestore, collection, RETENTION_MS);
  const client = new OperationsClient({
    endpointOverrides,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  const queryMs: number[] = [];
  const pollMs: number[] = [];
  const timed =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>, into: number[]) =>
    async (...args: A) => {
      const began = performance.now();
      const result = await f(...args);
      into.push(performance.now() - began);
      return result;
    };
  due.page = timed(due.page.bind(due), queryMs);
  client.get = timed(client.get.bind(client), pollMs);
  return {due, client, queryMs, pollMs};
}

/** Makes the run's pollers, one per tick budget, sharing its lease, clients, learned durations and clock. */
function pollerFactory(
  env: BenchEnv,
  parts: {
    collection: string;
    service: string;
    clock: CompressedClock;
    due: DueRegistrations;
    client: OperationsClient;
    sink: NotificationSink;
    concurrency: number;
    log: Logger;
  },
): (budgetMs: number) => Poller {
  const {collection, clock, log} = parts;
  const kinds = new KindDurations(env.firestore, collection, log, clock.now);
  // The lease reads the compressed clock too; its length is stretched so it still lasts LEASE_MS of real time.
  const leaseMs = LEASE_MS * clock.factor;
  return budgetMs =>
    new Poller({
      due: parts.due,
      lease: holder =>
        new PollLease(env.firestore, collection, holder, leaseMs, clock.now),
      client: parts.client,
      allowlists: parseAllowlists({
        GOOGLE_CLOUD_PROJECT: PROJECT,
        WATCH_SERVICES: parts.service,
      }),
      sink: parts.sink,
      log,
      kinds,
      budgetMs,
      concurrency: parts.concurrency,
      leaseMs,
      publishGraceMs: DEFAULT_PUBLISH_GRACE_SECONDS * 1000,
      // As functions/core/config.ts: the request timeout plus the lease, on the compressed clock.
      handOverMs: REQUEST_TIMEOUT_MS + LEASE_MS,
      now: clock.now,
      sleep: clock.sleep,
    });
}

/** The run's ticks, scheduled or woken: every one runs on, and its error is kept for the report. */
export class Ticks {
  readonly running: Promise<void>[] = [];
  readonly errors: string[] = [];
  scheduled = 0;
  /** Ticks woken by new registrations that no running tick would have polled soon. */
  woken = 0;

  constructor(private readonly poller: Poller) {}

  start(trigger: TickTrigger): void {
    this.running.push(
      this.poller.tick(undefined, trigger).then(
        () => {},
        (error: Error) => {
          this.errors.push(error.message);
        },
      ),
    );
  }
}

/**
 * The real tick wake, whose wake runs a tick here after the simulation's `wakeDelayMs` (compressed) instead of
 * going through Pub/Sub's push.
 */
function tickWake(
  env: BenchEnv,
  options: {
    collection: string;
    clock: CompressedClock;
    ticks: Ticks;
    /** Real milliseconds from a wake to its tick. */
    wakeDelayMs: number;
    log: Logger;
  },
): TickWake {
  const {ticks} = options;
  return new TickWake({
    firestore: env.firestore,
    collection: options.collection,
    shards: 1,
    send: async () => {
      ticks.woken++;
      setTimeout(() => ticks.start('registration'), options.wakeDelayMs);
    },
    log: options.log,
    now: options.clock.now,
  });
}
