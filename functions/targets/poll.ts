/**
 * The `poll` function's handler, wired to its dependencies. functions/index.ts loads this module on the function's
 * first request; it loads only the HTTP side, since the work itself runs on a worker thread (polling/tick-thread.ts) that
 * loads the poller's clients.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import {loadPollerConfig} from '../core/config';
import type {Logger} from '../platform/log';
import {createPollHandler} from '../polling/endpoint';
import {pollWork} from '../polling/tick-thread';

/** Builds the poll function from the environment's configuration. */
export function pollHandler(
  log: Logger,
): (req: Request, res: Response) => Promise<void> {
  const config = loadPollerConfig();
  return createPollHandler({
    work: pollWork(config, log),
    log,
    projectId: config.projectId,
    shards: config.shards,
  });
}
