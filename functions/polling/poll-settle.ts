/**
 * The last steps of one registration's poll (registration-poll.ts): the notification of an ending published,
 * the result written, a finished operation's duration learned, and an ending written again over a version that
 * changed meanwhile, so that it is never published twice.
 */
import type {
  DocumentSnapshot,
  QueryDocumentSnapshot,
} from '@google-cloud/firestore';
import type {PollUpdate} from '../core/document';
import type {Registration} from '../core/model';
import {readOperation, type Transition} from '../core/policy';
import {observedDuration} from '../forecast/durations';
import type {Forecast} from '../forecast/forecast';
import {learningKind} from '../forecast/kind';
import {historyScope} from '../forecast/kind-durations';
import {within} from '../platform/deadline';
import {publishOutcome} from './outcome-publish';
import type {TickContext, WriteResult} from './tick-context';

/**
 * Publishes the notification of a transition that ends the watch, then writes the result.
 * @returns the write's result, `refused` also when the notification could not be built; `published`, the
 *   transition stored once Pub/Sub took its notification.
 */
export async function settle(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
  registration: Registration,
  next: Forecast,
  now: number,
): Promise<WriteResult & {published?: Transition}> {
  let transition = next.transition;
  let published: Transition | undefined;
  if (transition.outcome) {
    // Left pending and due, the registration is the next lease holder's to finish.
    if (tick.fenced()) return {written: false};
    try {
      published = await publishOutcome(tick, registration, transition, now);
    } catch (error) {
      return {
        written: false,
        refused: `notification failed: ${(error as Error).message}`,
      };
    }
    if (!published) return {written: false};
    transition = published;
  }
  const saved = await save(tick, snapshot, {...next, transition}, now);
  if (
    saved.written &&
    (transition.outcome === 'succeeded' || transition.outcome === 'failed')
  )
    learn(tick, registration, transition, now);
  // Only a notification Pub/Sub took is one not to send again; a refused one left the registration pending.
  return transition.outcome ? {...saved, published} : saved;
}

/** Writes after a conflict: a document made due meanwhile (a completion event) is read again this often. */
const CHANGED_ATTEMPTS = 3;

/**
 * Writes the ending whose notification is out, though the registration changed since it was read: a completion
 * event made it due meanwhile (completions/due-now.ts), or the like. Left pending, it would be polled and published
 * again; so while it is still pending it is read again and the ending written over that version. A registration
 * no longer pending (cancelled, or ended by another poll) keeps its state.
 */
export async function finishChanged(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
  ending: Transition,
  now: number,
): Promise<void> {
  for (let attempt = 0; attempt < CHANGED_ATTEMPTS; attempt++) {
    let fresh: DocumentSnapshot;
    try {
      fresh = await within(
        snapshot.ref.get(),
        tick.timings.writeDeadlineMs,
        'reading a registration that changed',
      );
    } catch {
      // Firestore away: the write that failed said so to the tick already.
      return;
    }
    if (fresh.get('state') !== 'pending') return;
    const saved = await save(
      tick,
      fresh as QueryDocumentSnapshot,
      {transition: ending},
      now,
    );
    if (!saved.conflict) return;
  }
}

/**
 * Adds a finished operation's duration (succeeded or failed: failing early is part of what a kind does) to its
 * kind in its scope (its tenant, or its owner), once its final write landed; the poller writes it. Only an
 * operation seen running at least once teaches anything: one registered when already done says nothing of how
 * long it ran, and would let anyone teach a kind any duration.
 */
function learn(
  tick: TickContext,
  registration: Registration,
  transition: Transition,
  now: number,
): void {
  const seen = registration.lastOperation;
  if (!seen || readOperation(seen, registration.style).done) return;
  const operation = transition.lastOperation;
  const duration = operation && observedDuration(registration, operation, now);
  if (!tick.deps.kinds || duration === undefined) return;
  tick.deps.kinds.learn(
    learningKind(registration.operation.service, operation),
    historyScope(registration),
    registration.owner,
    duration,
  );
}

/**
 * The fields a poll writes back: its transition, and what people are shown while the watch is pending (cleared
 * when the operation stops telling, or the watch ends). Pure, so what the poller stores can be checked apart.
 */
export function pollUpdate(
  {transition, progressPercent, estimatedDoneAt}: Forecast,
  now: number,
): PollUpdate {
  const state = transition.outcome ?? 'pending';
  const pending = state === 'pending';
  return {
    state,
    attempts: transition.attempts,
    errorStreak: transition.errorStreak,
    nextPollAt: transition.nextPollAt,
    lastPolledAt: now,
    updatedAt: now,
    lastError: transition.lastError,
    ...(transition.lastOperation && {
      lastOperation: transition.lastOperation,
    }),
    ...(transition.publishFailures !== undefined && {
      publishFailures: transition.publishFailures,
      publishFailingSince: transition.publishFailingSince,
    }),
    progressPercent: pending ? progressPercent : undefined,
    estimatedDoneAt: pending ? estimatedDoneAt : undefined,
    ...(!pending && {finishedAt: now}),
  };
}

/** Writes a poll's result ({@link pollUpdate}) under the tick's precondition. */
export function save(
  tick: TickContext,
  snapshot: DocumentSnapshot,
  next: Forecast,
  now: number,
): Promise<WriteResult> {
  return tick.write(snapshot, pollUpdate(next, now));
}
