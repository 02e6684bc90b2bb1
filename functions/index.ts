/**
 * The Cloud Functions entry point: registers every function target with the Functions Framework and wires each
 * to its dependencies.
 *
 * Each handler is built on its function's first request, so a process serving one target reads only that
 * target's configuration, and a configuration error fails that target loudly, naming the variable.
 */
import * as functions from '@google-cloud/functions-framework';
import {Firestore} from '@google-cloud/firestore';
import {PubSub} from '@google-cloud/pubsub';
import type {
  CloudEvent,
  Request,
  Response,
} from '@google-cloud/functions-framework';
import {
  loadCompletionsConfig,
  loadPollerConfig,
  loadRegistrationConfig,
  type PollerConfig,
} from './config';
import {createCompletionsHandler} from './completions/handler';
import {DueNow} from './completions/due-now';
import {DueRegistrations} from './polling/due-registrations';
import {installFrameworkErrorHandler} from './http/framework-errors';
import {KindDurations} from './polling/kind-durations';
import {PollLease, leaseTimings} from './polling/lease';
import {leaseId} from './polling/shards';
import {createLogger} from './log';
import {OperationsClient} from './google/operations-client';
import {createPollHandler} from './polling/endpoint';
import {Poller} from './polling/poller';
import {PubSubPublisher} from './notify/publisher';
import {createRegistrationHandler} from './registration/api';
import {RegistrationStore} from './registration/store';

/** The function targets this package serves, as deployed. */
export const FUNCTION_TARGETS = ['operations', 'poll', 'completions'] as const;

/** Defers building a handler to its first call, and builds it once. */
function lazy<Args extends unknown[]>(
  build: () => (...args: Args) => Promise<void>,
): (...args: Args) => Promise<void> {
  let handler: ((...args: Args) => Promise<void>) | undefined;
  return (...args) => {
    handler ??= build();
    return handler(...args);
  };
}

function firestore(projectId: string): Firestore {
  return new Firestore({projectId, ignoreUndefinedProperties: true});
}

const log = createLogger();

installFrameworkErrorHandler();

functions.http(
  'operations',
  lazy((): ((req: Request, res: Response) => Promise<void>) => {
    const config = loadRegistrationConfig();
    const store = new RegistrationStore(
      firestore(config.projectId),
      config.collection,
      config.retentionMs,
    );
    return createRegistrationHandler({config, store, log});
  }),
);

function publisher(config: PollerConfig): PubSubPublisher {
  return new PubSubPublisher(
    new PubSub({projectId: config.projectId}),
    leaseTimings(config.leaseMs).publishTimeoutMs,
  );
}

/** The poller of `config`, with ticks of `budgetMs`, one lease per shard's bucket range. */
function poller(
  config: PollerConfig,
  db: Firestore,
  budgetMs: number,
  sink: PubSubPublisher,
) {
  return new Poller({
    due: new DueRegistrations(db, config.collection, config.retentionMs),
    lease: (holder, range) =>
      new PollLease(
        db,
        config.collection,
        holder,
        config.leaseMs,
        Date.now,
        leaseId(range),
      ),
    client: new OperationsClient(config),
    allowlists: config.allowlists,
    kinds: new KindDurations(db, config.collection, log),
    sink,
    log,
    budgetMs,
    concurrency: config.concurrency,
    leaseMs: config.leaseMs,
    handOverMs: config.handOverMs,
    publishGraceMs: config.publishGraceMs,
    deadLetterTopic: config.deadLetterTopic,
  });
}

functions.http(
  'poll',
  lazy((): ((req: Request, res: Response) => Promise<void>) => {
    const config = loadPollerConfig();
    const sink = publisher(config);
    return createPollHandler({
      poller: poller(
        config,
        firestore(config.projectId),
        config.budgetMs,
        sink,
      ),
      log,
      projectId: config.projectId,
      shards: config.shards,
      fanoutTopic: config.fanoutTopic,
      sink,
    });
  }),
);

functions.cloudEvent(
  'completions',
  lazy((): ((event: CloudEvent<unknown>) => Promise<void>) => {
    const config = loadCompletionsConfig();
    const db = firestore(config.projectId);
    return createCompletionsHandler({
      due: new DueNow(db, config.collection, config.retentionMs),
      poller: poller(config, db, config.completionBudgetMs, publisher(config)),
      log,
      budgetMs: config.completionBudgetMs,
      firestoreTimeoutMs: config.leaseMs,
      shards: config.shards,
    });
  }),
);
