/**
 * The completions function, target `completions`: a CloudEvent function that hears an operation's audit-log
 * completion entry and gets its notification out at once.
 *
 * The entry only says "done": the outcome still comes from `operations.get`, because audit entries do not carry
 * the operation's `response`. So the handler makes every pending registration of the operation due now, then
 * has it polled by the poller itself, under the poller's lease: it runs a tick of its own (a short one,
 * COMPLETION_POLL_BUDGET_SECONDS) when no tick runs, and otherwise waits for the running tick, which picks due
 * registrations up within its 1 s recheck. Why not only rely on the running tick: ticks run when Cloud Scheduler
 * calls, and a tick with nothing due soon ends at once, so a registration whose backoff is long would wait for the
 * next call, up to a minute. Why not a poll path of its own: the tick already publishes before it writes, fences
 * on its lease and writes with preconditions; a second path would have to repeat all of it, and two pollers
 * racing on one registration would publish twice.
 *
 * Bad input never makes Eventarc or Pub/Sub redeliver: anything unreadable, unknown, duplicate or late is logged
 * and acknowledged with nothing written. Only a Firestore failure throws (the framework answers 500), so the
 * event comes again once Firestore is back.
 */
import {setTimeout as delay} from 'node:timers/promises';
import type {CloudEvent} from '@google-cloud/functions-framework';
import type {Logger} from '../platform/log';
import {within} from '../platform/deadline';
import type {Poller} from '../polling/poller';
import {rangeOwning, type BucketRange} from '../core/shards';
import type {WatchStore} from '../watches/watch-store';
import {MIN_POLL_INTERVAL_MS} from '../core/policy';
import type {DueNow} from './due-now';
import {readEvent} from './events';
import {completionKeyOfEntry} from './lookup-key';

/** How often, while another tick holds the lease, to look whether it has polled the registrations. */
const RECHECK_MS = 500;

/** What the handler works with. */
export interface CompletionsDependencies {
  due: DueNow;
  /** Watches of parents: an event of an operation no registration has yet lists its parent's watches now. */
  watches?: WatchStore;
  /** A poller whose ticks last the completion budget. */
  poller: Poller;
  /** POLL_SHARDS: a tick works the shard that owns a registration, under that shard's lease. */
  shards: number;
  log: Logger;
  /** How long to see the registrations polled before leaving them, due, to the scheduled ticks. */
  budgetMs: number;
  /** Deadline of each Firestore call (the poller's lease). */
  firestoreTimeoutMs: number;
  /** While another tick holds the lease, how often to look again; 500 ms unless set (the benchmark compresses time). */
  recheckMs?: number;
  now?: () => number;
}

/** Builds the `completions` function's handler. */
export function createCompletionsHandler(
  deps: CompletionsDependencies,
): (event: CloudEvent<unknown>) => Promise<void> {
  const now = deps.now ?? Date.now;
  return async event => {
    const log = deps.log.child({eventId: event.id, eventType: event.type});
    const read = readEvent(event);
    if (read.kind === 'malformed') {
      log.warn('completion event ignored: malformed', {reason: read.reason});
      return;
    }
    if (read.kind === 'ignored') return;
    const key = completionKeyOfEntry(read.entry);
    if (!key) {
      log.info('completion event ignored: no preset reads its service', {
        serviceName: read.entry.protoPayload.serviceName,
      });
      return;
    }
    const markedAt = now();
    const ids = await within(
      deps.due.markDue(key, markedAt),
      deps.firestoreTimeoutMs,
      'marking registrations due',
    );
    if (ids.length > 0) {
      log.info('completion event: registrations due now', {registrations: ids});
      return pollSoon(deps, ids, markedAt, log);
    }
    const watches = await watchesDue(deps, key, markedAt);
    if (watches.length > 0) {
      // The list registers the operation, or notifies it from its entry: a tick of each watch's shard lists now.
      log.info('completion event: watches of its parent list now', {watches});
      return pollSoon(deps, watches, markedAt, log);
    }
    log.info('completion event: no pending registration', {
      operation: read.entry.operation.id,
    });
  };
}

/** The active watches of the parent of the operation keyed `key`, made due to list now. */
async function watchesDue(
  deps: CompletionsDependencies,
  key: string,
  now: number,
): Promise<string[]> {
  const at = key.lastIndexOf('/operations/');
  if (!deps.watches || at < 0) return [];
  return within(
    deps.watches.markDueByParent(key.slice(0, at), now, MIN_POLL_INTERVAL_MS),
    deps.firestoreTimeoutMs,
    'marking watches due',
  );
}

/** The shards that own `ids` (registrations' or watches', bucketed alike), each once. */
function shardsOwning(ids: string[], shards: number): BucketRange[] {
  const ranges = new Map<string, BucketRange>();
  for (const id of ids) {
    const range = rangeOwning(id, shards);
    ranges.set(`${range.from}-${range.to}`, range);
  }
  return [...ranges.values()];
}

/**
 * Runs a tick of each shard that owns `ids`, or waits for a shard's running tick to poll them, for up to the
 * budget.
 */
async function pollSoon(
  deps: CompletionsDependencies,
  ids: string[],
  markedAt: number,
  log: Logger,
): Promise<void> {
  const now = deps.now ?? Date.now;
  const giveUpAt = now() + deps.budgetMs;
  let shards = shardsOwning(ids, deps.shards);
  for (;;) {
    const held: BucketRange[] = [];
    for (const range of shards) {
      const counts = await deps.poller.tick(range, 'completion');
      if (counts.leaseHeld) held.push(range);
      else log.info('completion event: tick', {tick: counts});
    }
    if (held.length === 0) return;
    const waiting = await within(
      deps.due.unpolled(ids, markedAt),
      deps.firestoreTimeoutMs,
      'reading registrations',
    );
    if (waiting.length === 0) return;
    if (now() >= giveUpAt) {
      log.warn('completion event: left due for the next tick', {
        registrations: waiting,
      });
      return;
    }
    await delay(deps.recheckMs ?? RECHECK_MS);
    shards = held;
  }
}
