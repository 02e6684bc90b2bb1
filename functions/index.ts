/**
 * The Cloud Functions entry point: registers every function target with the Functions Framework and wires each
 * to its dependencies.
 *
 * Each handler is built on its function's first request, so a process serving one target reads only that
 * target's configuration, and a configuration error fails that target loudly, naming the variable.
 */
import * as functions from '@google-cloud/functions-framework';
import type {
  CloudEvent,
  Request,
  Response,
} from '@google-cloud/functions-framework';
import {
  loadCompletionsConfig,
  loadPollerConfig,
  loadRegistrationConfig,
} from './config';
import {createCompletionsHandler} from './completions/handler';
import {DueNow} from './completions/due-now';
import {installFrameworkErrorHandler} from './http/framework-errors';
import {newFirestore} from './firestore';
import {createLogger} from './log';
import {createPollHandler} from './polling/endpoint';
import {newPoller, newPublisher} from './polling/poll-work';
import {pollWork} from './polling/tick-thread';
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

const log = createLogger();

installFrameworkErrorHandler();

functions.http(
  'operations',
  lazy((): ((req: Request, res: Response) => Promise<void>) => {
    const config = loadRegistrationConfig();
    const store = new RegistrationStore(
      newFirestore(config.projectId),
      config.collection,
      config.retentionMs,
    );
    return createRegistrationHandler({config, store, log});
  }),
);

functions.http(
  'poll',
  lazy((): ((req: Request, res: Response) => Promise<void>) => {
    const config = loadPollerConfig();
    return createPollHandler({
      work: pollWork(config, log),
      log,
      projectId: config.projectId,
      shards: config.shards,
    });
  }),
);

functions.cloudEvent(
  'completions',
  lazy((): ((event: CloudEvent<unknown>) => Promise<void>) => {
    const config = loadCompletionsConfig();
    const db = newFirestore(config.projectId);
    return createCompletionsHandler({
      due: new DueNow(db, config.collection, config.retentionMs),
      poller: newPoller(
        config,
        db,
        config.completionBudgetMs,
        newPublisher(config),
        log,
      ),
      log,
      budgetMs: config.completionBudgetMs,
      firestoreTimeoutMs: config.leaseMs,
      shards: config.shards,
    });
  }),
);
