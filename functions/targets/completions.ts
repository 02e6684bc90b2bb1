/**
 * The `completions` function's handler, wired to its dependencies. functions/index.ts loads this module on the
 * function's first event.
 */
import type {CloudEvent} from '@google-cloud/functions-framework';
import {loadCompletionsConfig} from '../core/config';
import {newFirestore} from '../platform/firestore';
import type {Logger} from '../platform/log';
import {newPoller, newPublisher} from '../polling/poll-work';
import {DueNow} from '../completions/due-now';
import {createCompletionsHandler} from '../completions/handler';
import {WatchStore} from '../watches/watch-store';

/** Builds the completions function from the environment's configuration. */
export function completionsHandler(
  log: Logger,
): (event: CloudEvent<unknown>) => Promise<void> {
  const config = loadCompletionsConfig();
  const db = newFirestore(config.projectId);
  return createCompletionsHandler({
    due: new DueNow(db, config.collection, config.retentionMs, log),
    watches: new WatchStore(db, config.collection, config.retentionMs),
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
}
