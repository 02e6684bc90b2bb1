/**
 * What a registration needs from completion events (functions/completions/): the lookup key that ties an audit
 * entry to the registrations of its operation, and the lazier default backoff when events are on.
 *
 * The key is `{serviceName} {name}`, where `name` is the full operation name. A registration stores it when it is
 * made; an entry's key is rebuilt from what the service's preset says its entries carry
 * (completions/lookup-key.ts), so both sides meet on one indexed equality.
 *
 * With COMPLETION_EVENTS=true, for a service whose audit entries announce completions, the event brings the
 * notification and the polls are only the fallback should an entry never arrive: they can be few. Services
 * without completion events keep the poller's default.
 */
import type {OperationRef, PollPolicy} from './model';
import {presetFor} from './presets';

/** The stored field holding the key, indexed with `state` (infra/firestore.tf). */
export const COMPLETION_KEY_FIELD = 'completionKey';

/** The key of a registration's operation, or undefined when its service announces no completions. */
export function completionKeyOf(operation: OperationRef): string | undefined {
  const events = presetFor(operation.service)?.completionEvents;
  return events && `${events.serviceName} ${operation.name}`;
}

/**
 * 60 s, x4, at most 30 min, 20 % jitter. An operation shorter than a minute costs two polls (at registration, and
 * the one its event starts), one of up to five minutes three; on the benchmark's workload (2 s to 30 min,
 * log-uniform) that is under three polls per operation. A lost event still ends in a notification, within about
 * three times the operation's run time, or 30 min.
 */
export const COMPLETION_EVENTS_POLICY: PollPolicy = {
  initialDelayMs: 60_000,
  multiplier: 4,
  maxDelayMs: 1_800_000,
  jitter: 0.2,
};

/**
 * The policy a registration gets when it names none: the lazier one for an operation completion events will
 * announce, undefined (the poller's default) otherwise.
 */
export function defaultPollPolicy(
  operation: OperationRef,
  completionEvents: boolean,
): PollPolicy | undefined {
  return completionEvents && completionKeyOf(operation)
    ? COMPLETION_EVENTS_POLICY
    : undefined;
}
