/**
 * A registration as it starts: pending, due at once, with its completion key. The API's store and the poller's
 * watch lists (registrations found under a watched parent) both start them so.
 */
import {completionKeyOf} from './completion-events';
import type {NewRegistration, Registration} from './model';

/** The registration `request` starts at `now` for `owner`, under id `id`. */
export function pendingRegistration(
  request: NewRegistration,
  id: string,
  owner: string,
  now: number,
  tenant?: string,
  trace?: string,
): Registration {
  return {
    ...request,
    id,
    owner,
    ...(tenant !== undefined && {tenant}),
    state: 'pending',
    createdAt: now,
    updatedAt: now,
    deadline: now + request.timeoutMs,
    nextPollAt: now,
    attempts: 0,
    errorStreak: 0,
    completionKey: completionKeyOf(request.operation),
    ...(trace !== undefined && {trace}),
  };
}
