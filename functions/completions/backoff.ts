/**
 * The default backoff when completion events are on (COMPLETION_EVENTS=true). For a service whose audit entries
 * announce completions, the event brings the notification and the polls are only the fallback should an entry
 * never arrive: they can be few. Services without completion events keep the poller's default.
 */
import type {OperationRef} from '../model';
import type {PollPolicy} from '../polling/policy';
import {completionKeyOf} from './lookup-key';

/**
 * 30 s, x2, at most 10 min, 20 % jitter: an operation of a minute costs two polls besides the one its event
 * starts, and a lost event still ends in a notification within about half the operation's run time.
 */
export const COMPLETION_EVENTS_POLICY: PollPolicy = {
  initialDelayMs: 30_000,
  multiplier: 2,
  maxDelayMs: 600_000,
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
