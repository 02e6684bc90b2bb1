/**
 * The poll function's worker thread (tick-thread.ts): piscina calls its exports by name. The work is built on the
 * first call, from the same environment the main thread read, and kept for the thread's life, so connections,
 * tokens and learned durations carry over from tick to tick as they did on the main thread.
 */
import {loadPollerConfig} from '../config';
import {createLogger} from '../log';
import {createPollWork, type PollWork} from './poll-work';
import type {BucketRange} from './shards';
import type {TickCounts} from './poller';

let work: PollWork | undefined;

function pollWork(): PollWork {
  work ??= createPollWork(loadPollerConfig(), createLogger());
  return work;
}

/** One tick of the buckets in `range`. */
export function tick(range: BucketRange): Promise<TickCounts> {
  return pollWork().tick(range);
}

/** The fan-out of a Scheduler tick over the shards. */
export function fanOut(): Promise<number> {
  return pollWork().fanOut();
}
