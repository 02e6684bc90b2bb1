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
import type {Request, Response} from '@google-cloud/functions-framework';
import {loadPollerConfig, loadRegistrationConfig} from './config';
import {DueRegistrations} from './polling/due-registrations';
import {installFrameworkErrorHandler} from './http/framework-errors';
import {KindDurations} from './polling/kind-durations';
import {PollLease} from './polling/lease';
import {createLogger} from './log';
import {OperationsClient} from './google/operations-client';
import {createPollHandler} from './polling/endpoint';
import {Poller} from './polling/poller';
import {PubSubPublisher} from './notify/publisher';
import {createRegistrationHandler} from './registration/api';
import {RegistrationStore} from './registration/store';

/** The function targets this package serves, as deployed. */
export const FUNCTION_TARGETS = ['operations', 'poll'] as const;

type Handler = (req: Request, res: Response) => Promise<void>;

/** Defers building a handler to its first request, and builds it once. */
function lazy(build: () => Handler): Handler {
  let handler: Handler | undefined;
  return (req, res) => {
    handler ??= build();
    return handler(req, res);
  };
}

function firestore(projectId: string): Firestore {
  return new Firestore({projectId, ignoreUndefinedProperties: true});
}

const log = createLogger();

installFrameworkErrorHandler();

functions.http(
  'operations',
  lazy(() => {
    const config = loadRegistrationConfig();
    const store = new RegistrationStore(
      firestore(config.projectId),
      config.collection,
      config.retentionMs,
    );
    return createRegistrationHandler({config, store, log});
  }),
);

functions.http(
  'poll',
  lazy(() => {
    const config = loadPollerConfig();
    const db = firestore(config.projectId);
    const poller = new Poller({
      due: new DueRegistrations(db, config.collection, config.retentionMs),
      lease: holder =>
        new PollLease(db, config.collection, holder, config.leaseMs),
      client: new OperationsClient(config),
      kinds: new KindDurations(db, config.collection, log),
      sink: new PubSubPublisher(new PubSub({projectId: config.projectId})),
      log,
      budgetMs: config.budgetMs,
      concurrency: config.concurrency,
      leaseMs: config.leaseMs,
      handOverMs: config.handOverMs,
    });
    return createPollHandler({poller, log, projectId: config.projectId});
  }),
);
