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
import type {CloudEvent} from '@google-cloud/functions-framework';
import type {Logger} from '../log';
import {within, type Poller} from '../polling/poller';
import type {DueNow} from './due-now';
import {readEvent} from './events';
import {completionKeyOfEntry} from './lookup-key';

/** How often, while another tick holds the lease, to look whether it has polled the registrations. */
const RECHECK_MS = 500;

/** What the handler works with. */
export interface CompletionsDependencies {
  due: DueNow;
  /** A poller whose ticks last the completion budget. */
  poller: Poller;
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
    if (ids.length === 0) {
      log.info('completion event: no pending registration', {
        operation: read.entry.operation.id,
      });
      return;
    }
    log.info('completion event: registrations due now', {registrations: ids});
    await pollSoon(deps, ids, markedAt, log);
  };
}

/** Runs a tick, or waits for the running one to poll `ids`, for up to the budget. */
async function pollSoon(
  deps: CompletionsDependencies,
  ids: string[],
  markedAt: number,
  log: Logger,
): Promise<void> {
  const now = deps.now ?? Date.now;
  const giveUpAt = now() + deps.budgetMs;
  for (;;) {
    const counts = await deps.poller.tick();
    if (!counts.leaseHeld) {
      log.info('completion event: tick', {tick: counts});
      return;
    }
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
    await new Promise(resolve =>
      setTimeout(resolve, deps.recheckMs ?? RECHECK_MS),
    );
  }
}
