/**
 * The poll function's worker thread (tick-thread.ts): piscina calls its exports by name. The work is built on the
 * first call, from the same environment the main thread read, and kept for the thread's life, so connections,
 * tokens and learned durations carry over from tick to tick as they did on the main thread.
 */
import {loadPollerConfig} from '../core/config';
import {createLogger} from '../platform/log';
import {createPollWork, type PollWork} from './poll-work';
import type {BucketRange} from '../core/shards';
import type {TickCounts, TickTrigger} from './tick-context';

let work: PollWork | undefined;

/**
 * Writes log lines to the thread's standard output, the lines of one turn of the event loop as one buffer. On a
 * worker thread every write is a message to the main thread, which writes it out, and a tick of finishing
 * operations logs an audit line per poll: profiled, a message per line (or one string of many) cost 25 us of CPU
 * per line, one buffer of many lines a third of that.
 */
function batchedLines(): (line: string) => void {
  let lines: string[] = [];
  return line => {
    if (lines.length === 0) {
      process.nextTick(() => {
        process.stdout.write(Buffer.from(lines.join('')));
        lines = [];
      });
    }
    lines.push(`${line}\n`);
  };
}

function pollWork(): PollWork {
  work ??= createPollWork(loadPollerConfig(), createLogger(batchedLines()));
  return work;
}

/** One tick of the buckets in `range`. */
export function tick({
  range,
  trigger,
}: {
  range: BucketRange;
  trigger: TickTrigger;
}): Promise<TickCounts> {
  return pollWork().tick(range, trigger);
}

/** The fan-out of a Scheduler tick over the shards. */
export function fanOut(): Promise<number> {
  return pollWork().fanOut();
}
