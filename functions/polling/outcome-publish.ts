/**
 * Publishing the notification of a watch that ended, within the publish timeout the lease's fence counts on. A
 * refused publish leaves the registration pending for another try after the backoff; once the publish grace has
 * run from the first refusal, with at least three refusals over at least a minute (core/policy.ts), the watch
 * ends `undeliverable` and the notification goes to the dead-letter topic, under the lease's fence like any other
 * publish.
 */
import type {Operation, PollError, Registration} from '../core/model';
import {
  afterPublishFailure,
  undeliverableAt,
  type Transition,
} from '../core/policy';
import {reportedEndTime} from '../forecast/durations';
import {undeliverableLetter} from '../notify/dead-letter';
import {buildNotification, type Notification} from '../notify/notification';
import type {OutgoingMessage} from '../notify/publisher';
import {audit, type AuditEvent} from '../platform/audit';
import {within} from '../platform/deadline';
import {withTrace, type Logger} from '../platform/log';
import type {TickContext, TickCounts} from './tick-context';

/** The counter of each outcome a notification was published for. */
const OUTCOME_COUNTER: Record<
  NonNullable<Transition['outcome']>,
  keyof Omit<TickCounts, 'leaseHeld' | 'maxLateMs' | 'durationMs'>
> = {
  succeeded: 'succeeded',
  failed: 'failed',
  expired: 'expired',
  not_found: 'notFound',
  poll_error: 'pollErrors',
  undeliverable: 'undeliverable',
};

/** Why a watch that ended without the operation's result ended, for its notification. */
function pollErrorOf(
  registration: Registration,
  transition: Transition,
): PollError | undefined {
  const outcome = transition.outcome;
  if (outcome === 'expired') {
    return {
      kind: 'deadline',
      message: `not done by the deadline, ${new Date(registration.deadline).toISOString()}`,
    };
  }
  return outcome === 'succeeded' || outcome === 'failed'
    ? undefined
    : transition.lastError;
}

/**
 * Where a notification's lag starts: the end time a done operation reports, counted from the registration at the
 * earliest (an operation registered after it ended is not late for the time before); else when a poll first found
 * the watch ended, which the first refused publish keeps (`publishFailingSince`) so the retries count.
 */
export function lagStart(
  registration: Pick<Registration, 'createdAt' | 'publishFailingSince'>,
  operation: Operation | undefined,
  seenAt: number,
): number {
  const firstSeen = registration.publishFailingSince ?? seenAt;
  const reported = operation?.done ? reportedEndTime(operation) : undefined;
  if (reported === undefined || reported > firstSeen) return firstSeen;
  return Math.max(reported, registration.createdAt);
}

/**
 * Publishes the notification of a transition that ends the watch.
 * @returns the transition to store: as given once Pub/Sub accepted the notification; pending again after a refusal;
 *   `undeliverable` once refusals outlast the grace; undefined when the lease could run out before the dead-letter
 *   publish and the write are done (the registration is left, due, to the next holder).
 * @throws when the notification cannot be built from the registration's data: its own fault.
 */
export async function publishOutcome(
  tick: TickContext,
  registration: Registration,
  transition: Transition,
  now: number,
): Promise<Transition | undefined> {
  const outcome = transition.outcome!;
  const notification = buildNotification(registration, {
    outcome,
    finishedAt: now,
    attempts: transition.attempts,
    operation: transition.lastOperation,
    pollError: pollErrorOf(registration, transition),
  });
  // The lines about this registration join the trace of the request that registered it.
  const log = withTrace(tick.deps.log, registration.trace);
  const event: Omit<AuditEvent, 'outcome'> = {
    action: 'notify',
    principal: registration.owner,
    ...(registration.tenant !== undefined && {tenant: registration.tenant}),
    registrationId: registration.id,
    operationUrl: registration.operation.url,
    service: registration.operation.service,
    topic: registration.topic,
  };
  try {
    await publishWithin(tick, registration.topic, notification);
    const publishedAt = tick.now();
    const lagMs = Math.max(
      0,
      publishedAt - lagStart(registration, transition.lastOperation, now),
    );
    audit(log, {...event, outcome, lagMs});
    tick.deps.stats?.record(outcome, publishedAt, lagMs, registration.tenant);
    tick.counts.published++;
    tick.counts[OUTCOME_COUNTER[outcome]]++;
    return transition;
  } catch (error) {
    audit(log, {...event, outcome: 'publish_failed'});
    const message = `publishing to ${registration.topic} failed: ${(error as Error).message}`;
    const failure: PollError = {kind: 'publish', message};
    if (undeliverableAt(registration, now, tick.deps.publishGraceMs))
      return undeliverable(
        tick,
        {log, event, now},
        registration,
        transition,
        notification,
        failure,
      );
    const held = tick.throttle.pass(`publish ${registration.topic}`);
    if (held !== undefined) {
      log.warn(message, {
        registrationId: registration.id,
        ...(held > 0 && {alsoFailedSinceLastLine: held}),
      });
    }
    return afterPublishFailure(
      registration,
      transition,
      failure,
      now,
      tick.random,
    );
  }
}

/** A publish within the publish timeout, whatever the sink does: the fence counts on it. */
export function publishWithin(
  tick: TickContext,
  topic: string,
  message: OutgoingMessage,
): Promise<string> {
  return within(
    tick.deps.sink.publish(topic, message),
    tick.timings.publishTimeoutMs,
    'publishing',
    'Pub/Sub',
  );
}

/**
 * Ends a watch whose notification Pub/Sub kept refusing past its deadline and the grace: the notification goes
 * to the dead-letter topic, if there is one, with the publish error attached.
 */
async function undeliverable(
  tick: TickContext,
  {
    log,
    event,
    now,
  }: {log: Logger; event: Omit<AuditEvent, 'outcome'>; now: number},
  registration: Registration,
  transition: Transition,
  notification: Notification,
  error: PollError,
): Promise<Transition | undefined> {
  const deadLetter = tick.deps.deadLetterTopic;
  let deadLettered = false;
  if (deadLetter) {
    // A second publish after the one refused: the fence's margin covers one, so it is checked again.
    if (tick.fenced()) return undefined;
    try {
      await publishWithin(
        tick,
        deadLetter,
        undeliverableLetter(notification, registration.topic, error.message),
      );
      deadLettered = true;
    } catch (deadLetterError) {
      log.error('publishing to the dead-letter topic failed', {
        registrationId: registration.id,
        error: (deadLetterError as Error).message,
      });
    }
  }
  // Counted once the watch really ends: a fenced one is tried again by the next holder.
  audit(log, {...event, outcome: 'undeliverable'});
  tick.deps.stats?.record('undeliverable', now, undefined, registration.tenant);
  tick.counts.undeliverable++;
  log.error('watch ended undeliverable', {
    registrationId: registration.id,
    topic: registration.topic,
    outcome: transition.outcome,
    error: error.message,
    ...(deadLetter && {deadLetterTopic: deadLetter, deadLettered}),
  });
  return {
    ...transition,
    outcome: 'undeliverable',
    errorStreak: 0,
    lastError: error,
  };
}
