/**
 * The default backoff when completion events are on (COMPLETION_EVENTS=true). For a service whose audit entries
 * announce completions, the event brings the notification and the polls are only the fallback should an entry
 * never arrive: they can be few. Services without completion events keep the poller's default.
 */
import type {OperationRef} from '../model';
import type {PollPolicy} from '../polling/policy';
import {completionKeyOf} from './lookup-key';

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
