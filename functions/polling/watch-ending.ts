/**
 * How a watch's list ends when it does not list: the lists refuse the watch now, its timeout passed, or the list
 * failed (tried again after the interval, or the watch ends after PERMANENT_ERROR_POLLS permanent failures in a
 * row, as a registration does); and the write of a watch that a cancel may have raced.
 */
import type {DocumentSnapshot} from '@google-cloud/firestore';
import type {PollError} from '../core/model';
import {MAX_RETRY_AFTER_MS, PERMANENT_ERROR_POLLS} from '../core/policy';
import {accessRefusals} from '../core/tenants';
import type {Watch, WatchState} from '../core/watch';
import {readWatch} from '../core/watch-document';
import type {ListResult} from '../google/operations-list';
import {within} from '../platform/deadline';
import {FAILED_PRECONDITION, firestoreCode} from '../platform/firestore';
import type {TickContext} from './tick-context';

/** Why the current lists (and the watch's tenant's) refuse the watch, or undefined when they allow it. */
export function watchRefusal(
  tick: TickContext,
  watch: Watch,
): PollError | undefined {
  const {allowlists, tenants} = tick.deps;
  const {service, version, parent, topic} = watch;
  const refused = accessRefusals(
    {
      operation: {service, version, name: parent, url: ''},
      topic,
    },
    allowlists,
    tenants && {tenants, tenant: watch.tenant, owner: watch.owner},
  );
  if (refused.length === 0) return undefined;
  const message = refused.map(refusal => refusal.message).join('; ');
  return {kind: 'forbidden', message};
}

/**
 * Writes a list's result to the watch, unless the watch changed since it was read: then a cancel raced the list,
 * and the registrations the list made are cancelled too, so nothing is notified after the cancel.
 */
export async function saveWatch(
  tick: TickContext,
  snapshot: DocumentSnapshot,
  watch: Watch,
  update: Partial<Watch>,
): Promise<void> {
  const {store} = tick.deps.watches!;
  try {
    await within(
      store.save(snapshot, update),
      tick.timings.writeDeadlineMs,
      'writing a watch',
    );
  } catch (error) {
    if (firestoreCode(error) !== FAILED_PRECONDITION) {
      tick.deps.log.warn('writing a watch failed', {
        watchId: watch.id,
        error: (error as Error).message,
      });
      return;
    }
    const now = await store.collection.doc(watch.id).get();
    if (now.exists && readWatch(now).state !== 'active')
      await store.cancelRegistrations(watch.id, tick.now());
  }
}

/** Ends a watch in a final state, with the error that ended it. */
export async function endWatch(
  tick: TickContext,
  snapshot: DocumentSnapshot,
  watch: Watch,
  state: Exclude<WatchState, 'active'>,
  lastError?: PollError,
): Promise<void> {
  const now = tick.now();
  const log = state === 'expired' ? tick.deps.log.info : tick.deps.log.warn;
  log.call(tick.deps.log, `watch ended ${state}`, {
    watchId: watch.id,
    owner: watch.owner,
    parent: watch.parent,
    ...(lastError && {error: lastError.message}),
  });
  await saveWatch(tick, snapshot, watch, {
    state,
    updatedAt: now,
    finishedAt: now,
    ...(lastError && {lastError}),
  });
}

/** A list that failed: tried again after the interval (or Retry-After), or the watch ends after a permanent streak. */
export async function listFailed(
  tick: TickContext,
  snapshot: DocumentSnapshot,
  watch: Watch,
  result: Exclude<ListResult, {kind: 'listed'}>,
): Promise<void> {
  const now = tick.now();
  const errorStreak = watch.errorStreak + 1;
  if (result.kind !== 'transient' && errorStreak >= PERMANENT_ERROR_POLLS)
    return endWatch(tick, snapshot, watch, 'poll_error', result.error);
  const retryAfterMs =
    result.kind === 'transient'
      ? Math.min(result.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)
      : 0;
  const {listIntervalMs} = tick.deps.watches!;
  await saveWatch(tick, snapshot, watch, {
    errorStreak,
    lastError: result.error,
    updatedAt: now,
    nextListAt: now + Math.max(listIntervalMs, retryAfterMs),
  });
}
