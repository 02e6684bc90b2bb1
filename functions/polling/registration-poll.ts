/**
 * One registration's poll within a tick: its stored document read, the allowlists checked again, its operation
 * fetched, the next poll forecast, its notification published if the watch ended, and the result written.
 *
 * Faults belong to their cause. Whatever this registration's answer, forecast, notification or update does wrong
 * (a value the codec cannot store, a notification that cannot be built, a throw in the forecast) is charged to
 * this registration as a poll error (`invalid`, with the reason): counted, retried with the backoff, and ended
 * `poll_error` with a notification after as many as any permanent error (core/policy.ts). Only Firestore or
 * Pub/Sub failing stops the tick (tick-run.ts); a stored document this version cannot read is corrupt-end.ts's.
 *
 * The publish and the write stay inside the POLL_CONCURRENCY slot the tick gave this poll: released after the
 * request, they pile up unthrottled, and a crash then catches more of them between Pub/Sub's ack and the write
 * (duplicates in the crash suite went from 0.8 % to 2.5 %, over its 1 % bound).
 */
import type {QueryDocumentSnapshot} from '@google-cloud/firestore';
import {accessRefusals} from '../core/tenants';
import {readDocument} from '../core/document';
import type {Registration} from '../core/model';
import {decide, type PollResult} from '../core/policy';
import {lroSettingsFor} from '../core/presets';
import {forecast, type Forecast} from '../forecast/forecast';
import {learningKind, operationKind} from '../forecast/kind';
import {historyScope} from '../forecast/kind-durations';
import {withTrace} from '../platform/log';
import {endCorrupt} from './corrupt-end';
import {finishChanged, save, settle} from './poll-settle';
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

  let next: Forecast;
  try {
    next = await forecastNext(tick, registration, result, now);
  } catch (error) {
    next = charged(
      tick,
      registration,
      `forecast failed: ${(error as Error).message}`,
      now,
    );
  }
  const settled = await settle(tick, snapshot, registration, next, now);
  if (settled.conflict && settled.published)
    return finishChanged(tick, snapshot, settled.published, now);
  if (settled.refused === undefined) return;
  // What this poll would store cannot be stored. Once its notification is out, the watch ends all the same,
  // keeping the last operation stored before; otherwise the registration is charged with it.
  const again = settled.published
    ? await save(
        tick,
        snapshot,
        {transition: {...settled.published, lastOperation: undefined}},
        now,
      )
    : await settle(
        tick,
        snapshot,
        registration,
        charged(tick, registration, settled.refused, now),
        now,
      );
  // Not even that: what the registration holds cannot be carried on (its counts at their limit, say).
  if (again.refused !== undefined)
    await endCorrupt(tick, snapshot, `not writable: ${again.refused}`);
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
  if (result.kind !== 'operation')
    return forecast(registration, result, now, tick.random);
  const {service} = registration.operation;
  const kind = operationKind(service, result.operation);
  const knowledge = {
    durations: await tick.deps.kinds?.model(
      learningKind(service, result.operation),
      historyScope(registration),
    ),
    // The owners' settings are per kind of theirs: an operation of no kind has none.
    prior: kind && lroSettingsFor(service, kind.verb),
  };
  return forecast(registration, result, now, tick.random, knowledge);
}

/**
 * The policy's decision after a poll whose own data failed it: a poll error of kind `invalid` saying why, with
 * the last operation stored before, which is known to store and publish.
 */
function charged(
  tick: TickContext,
  registration: Registration,
  reason: string,
  now: number,
): Forecast {
  withTrace(tick.deps.log, registration.trace).warn(
    'poll charged to its registration',
    {
      registrationId: registration.id,
      reason,
    },
  );
  const fault: PollResult = {
    kind: 'rejected',
    error: {kind: 'invalid', message: reason.slice(0, 1024)},
  };
  return {transition: decide(registration, fault, now, tick.random)};
}
