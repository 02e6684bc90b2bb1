/**
 * One registration's poll within a tick: its stored document read, the allowlists checked again, its operation
 * fetched, the next poll forecast, its notification published if the watch ended, and the result written.
 *
 * The publish and the write stay inside the POLL_CONCURRENCY slot the tick gave this poll: released after the
 * request, they pile up unthrottled, and a crash then catches more of them between Pub/Sub's ack and the write
 * (duplicates in the crash suite went from 0.8 % to 2.5 %, over its 1 % bound).
 */
import type {
  DocumentSnapshot,
  QueryDocumentSnapshot,
} from '@google-cloud/firestore';
import {accessRefusals} from '../core/tenants';
import {readDocument} from '../core/document';
import type {Registration} from '../core/model';
import {readOperation, type PollResult, type Transition} from '../core/policy';
import {lroSettingsFor} from '../core/presets';
import {observedDuration} from '../forecast/durations';
import {forecast, type Forecast} from '../forecast/forecast';
import {operationKind} from '../forecast/kind';
import {historyScope} from '../forecast/kind-durations';
import {publishOutcome} from './outcome-publish';
import type {TickContext} from './tick-context';

/** Polls the registration of `snapshot` once, as part of `tick`. */
export async function pollRegistration(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
): Promise<void> {
  if (!tick.mayStart()) return;
  const read = readDocument(snapshot);
  if (!read.ok) return endCorrupt(tick, snapshot, read.problem);
  const registration = read.registration;
  const counts = tick.counts;
  counts.maxLateMs = Math.max(
    counts.maxLateMs,
    tick.now() - registration.nextPollAt,
  );
  const result = await fetchOperation(tick, registration);
  const now = tick.now();
  tick.counts.polled++;
  if (result.kind === 'transient') tick.counts.retried++;

  const next = await forecastNext(tick, registration, result, now);
  let transition = next.transition;
  let endSeenAt: number | undefined;
  if (transition.outcome) {
    // Left pending and due, the registration is the next lease holder's to finish.
    if (tick.fenced()) return;
    transition = await publishOutcome(tick, registration, transition, now);
    // Refused: the lag of the notification that finally goes out counts from this first sight of the end.
    if (!transition.outcome) endSeenAt = registration.endSeenAt ?? now;
  }
  const saved = await saveTransition(
    tick,
    snapshot,
    {...next, transition},
    now,
    endSeenAt,
  );
  if (saved && transition.outcome === 'succeeded')
    learn(tick, registration, transition, now);
}

/**
 * The operation's answer, unless the current lists (its tenant's too) refuse the registration: then no request is
 * sent.
 */
async function fetchOperation(
  tick: TickContext,
  registration: Registration,
): Promise<PollResult> {
  const {allowlists, tenants} = tick.deps;
  const refused = accessRefusals(
    registration,
    allowlists,
    tenants && {
      tenants,
      tenant: registration.tenant,
      owner: registration.owner,
    },
  );
  if (refused.length === 0) return tick.deps.client.get(registration);
  return {
    kind: 'rejected',
    error: {
      kind: 'forbidden',
      message: refused.map(refusal => refusal.message).join('; '),
    },
  };
}

/** The policy's decision with the next poll placed by what is known of the operation and its kind. */
async function forecastNext(
  tick: TickContext,
  registration: Registration,
  result: PollResult,
  now: number,
): Promise<Forecast> {
  const kind =
    result.kind === 'operation'
      ? operationKind(registration.operation.service, result.operation)
      : undefined;
  const knowledge = kind && {
    durations: await tick.deps.kinds?.model(kind, historyScope(registration)),
    prior: lroSettingsFor(registration.operation.service, kind.verb),
  };
  return forecast(registration, result, now, tick.random, knowledge);
}

/**
 * Adds a succeeded operation's duration to its kind in its scope (its tenant, or its owner), once its final write
 * landed; the poller writes it. Only an operation seen running at least once teaches anything: one registered
 * when already done says nothing of how long it ran, and would let anyone teach a kind any duration.
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
  const kind = operationKind(registration.operation.service, operation);
  const duration = operation && observedDuration(registration, operation, now);
  if (!tick.deps.kinds || !kind || duration === undefined) return;
  tick.deps.kinds.learn(
    kind,
    historyScope(registration),
    registration.owner,
    duration,
  );
}

/**
 * Writes what followed a poll (or a watch's list entry) to the registration of `snapshot`: its state, its next
 * poll, what it last saw; unless the document changed since it was read.
 */
export function saveTransition(
  tick: TickContext,
  snapshot: DocumentSnapshot,
  {transition, progressPercent, estimatedDoneAt}: Forecast,
  now: number,
  endSeenAt: number | undefined,
): Promise<boolean> {
  const state = transition.outcome ?? 'pending';
  const pending = state === 'pending';
  return tick.write(snapshot, {
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
    // Cleared when the operation stops telling, or the watch ends.
    progressPercent: pending ? progressPercent : undefined,
    estimatedDoneAt: pending ? estimatedDoneAt : undefined,
    ...(!pending && {finishedAt: now}),
    ...(endSeenAt !== undefined && {endSeenAt}),
  });
}

/**
 * A stored document this version cannot read ends `poll_error` (kind `corrupt`) with no notification, since
 * its topic cannot be trusted; if even that write fails, it is skipped until a later tick.
 */
async function endCorrupt(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
  problem: string,
): Promise<void> {
  tick.counts.corrupt++;
  const now = tick.now();
  tick.deps.log.error('corrupt registration document', {
    registrationId: snapshot.id,
    problem,
  });
  await tick.write(snapshot, {
    state: 'poll_error',
    updatedAt: now,
    lastPolledAt: now,
    finishedAt: now,
    lastError: {kind: 'corrupt', message: problem},
  });
}
