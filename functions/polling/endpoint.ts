/**
 * The poll function, target `poll`: Cloud Scheduler calls it every minute (any body, usually empty) and each call
 * is one tick. It answers the tick's counts, or a 5xx when Firestore could not be reached so Scheduler retries.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import type {Logger} from '../log';
import {traceFields} from '../log';
import type {Poller} from './poller';
import {sendError} from '../http/responses';

/** Builds the `poll` function's handler. */
export function createPollHandler(deps: {
  poller: Poller;
  log: Logger;
  projectId: string;
}): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const log = deps.log.child(traceFields(req.headers, deps.projectId));
    try {
      const counts = await deps.poller.tick();
      log.info(
        counts.leaseHeld
          ? 'tick skipped: another tick holds the lease'
          : 'tick',
        {tick: counts},
      );
      res.json(counts);
    } catch (error) {
      log.error('tick failed', {error: (error as Error).message});
      sendError(res, 503, `tick failed: ${(error as Error).message}`);
    }
  };
}
