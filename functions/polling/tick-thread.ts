/**
 * The poll function's work runs on a worker thread of its own, one per instance, kept for the instance's life.
 *
 * Why: the Functions Framework runs every request inside a `node:domain`, and the first domain a thread creates
 * enables Node's domain async hook on that thread for good. The hook has a `destroy` callback, so from then on
 * every promise the thread makes is tracked until it is collected (`registerDestroyHook`): profiled, that and the
 * garbage it leaves were a quarter of the poll process's CPU, and a tick makes many promises per poll. Leaving the
 * domain (http/request-domain.ts) does not switch the hook off. Async hooks are per thread: the worker never
 * creates a domain, so its promises carry none of it, while the main thread keeps the framework's HTTP handling.
 *
 * piscina runs the thread: one worker, started with the pool and never retired while idle; concurrent calls run
 * on it concurrently, as concurrent requests did on the main thread; a worker that dies has its calls rejected and
 * is replaced. Its atomics are off: between calls the worker's event loop must keep running (the BulkWriter's
 * timer, gRPC keepalives, the token refresh).
 */
import {existsSync} from 'node:fs';
import {join} from 'node:path';
import Piscina from 'piscina';
import type {PollerConfig} from '../core/config';
import type {Logger} from '../platform/log';
import type {PollWork} from './poll-work';

/** The worker's script, compiled next to this file. */
const TICK_WORKER = join(__dirname, 'tick-worker.js');

/** The poll work on a worker thread of its own. */
function threadWork(): PollWork {
  const pool = new Piscina({
    filename: TICK_WORKER,
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: Infinity,
    concurrentTasksPerWorker: Infinity,
    atomics: 'disabled',
  });
  return {
    tick: (range, trigger) => pool.run({range, trigger}, {name: 'tick'}),
    fanOut: () => pool.run(undefined, {name: 'fanOut'}),
  };
}

/**
 * The poll function's work: on its own thread, or on this one where there is no compiled worker to start, which
 * is only when the functions run from their TypeScript sources (the in-process test stack, under ts-jest).
 */
export function pollWork(config: PollerConfig, log: Logger): PollWork {
  if (existsSync(TICK_WORKER)) return threadWork();
  // Required only here: a main thread that starts the worker never loads the poller's clients.
  const {createPollWork} =
    require('./poll-work') as typeof import('./poll-work');
  return createPollWork(config, log);
}
