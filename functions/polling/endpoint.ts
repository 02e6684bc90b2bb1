/**
 * The poll function, target `poll`. Cloud Scheduler calls it every minute with no shard (any body, usually
 * empty): with `POLL_SHARDS` = 1 that call is one tick of the whole collection; with more shards it fans out,
 * publishing one `{"shard": k}` message per shard to `POLL_FANOUT_TOPIC`, whose push subscription calls this
 * function once per shard, on parallel instances. A call with `{"shard": k}` (directly or as a push delivery) is
 * one tick of shard k; `{"shard": k, "wake": true}` is a registration's wake (tick-wake.ts). A tick answers its
 * counts, or a 5xx when Firestore could not be reached so the caller (Scheduler, or Pub/Sub's push retries) tries
 * again.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import type {Logger} from '../platform/log';
import {traceFields} from '../platform/log';
import {sendError, sendInvalid} from '../http/responses';
import {leaveRequestDomain} from '../http/request-domain';
import {parsePollRequest} from './poll-request';
import type {PollWork} from './poll-work';
import {bucketRange} from '../core/shards';

/** Builds the `poll` function's handler. */
export function createPollHandler(deps: {
  /** The ticks and the fan-out, wherever they run (tick-thread.ts). */
  work: PollWork;
  log: Logger;
  projectId: string;
  /** POLL_SHARDS. */
  shards: number;
}): (req: Request, res: Response) => Promise<void> {
  // Failed ticks in a row per shard, as this instance saw them: the alert on three in a row reads it from the
  // failure's log line. Another instance starts counting again, so the count may come late, never early.
  const failedInARow = new Map<number, number>();
  return async (req, res) => {
    leaveRequestDomain();
    const log = deps.log.child(traceFields(req.headers, deps.projectId));
    const request = parsePollRequest(req.body, deps.shards);
    if (!request.ok) {
      sendInvalid(res, request.problems);
      return;
    }
    if (request.ignored !== undefined) {
      log.warn('tick message for an unknown shard acknowledged', {
        problem: request.ignored,
      });
      res.json({ignored: request.ignored});
      return;
    }
    if (request.shard === undefined && deps.shards > 1) {
      try {
        const fannedOut = await deps.work.fanOut();
        log.info('tick fanned out', {fannedOut});
        res.json({fannedOut});
      } catch (error) {
        log.error('fan-out failed', {error: (error as Error).message});
        sendError(res, 503, `fan-out failed: ${(error as Error).message}`);
      }
      return;
    }
    const shard = request.shard ?? 0;
    try {
      const counts = await deps.work.tick(
        bucketRange(shard, deps.shards),
        request.wake ? 'registration' : 'scheduler',
      );
      failedInARow.delete(shard);
      log.info(
        counts.leaseHeld
          ? 'tick skipped: another tick holds the lease'
          : 'tick',
        {tick: counts, shard},
      );
      res.json(counts);
    } catch (error) {
      const failures = (failedInARow.get(shard) ?? 0) + 1;
      failedInARow.set(shard, failures);
      log.error('tick failed', {
        error: (error as Error).message,
        shard,
        failedInARow: failures,
      });
      sendError(res, 503, `tick failed: ${(error as Error).message}`);
    }
  };
}
