/**
 * What one entry of a watch's list calls for: pure, so the rules that keep a watch to "every operation that was
 * not done when the watch began, once" are exact to test.
 *
 * Telling what was done before the watch began: an operation's own end time (`metadata.endTime`, Compute's
 * `endTime`, `genericMetadata.updateTime`) where it reports one, else its start time (started after the watch
 * began means done after it too); an operation that reports neither is judged by the first list, the baseline:
 * what it shows done is taken as done before the watch, and a done operation a later list shows first was done
 * between two lists. So an operation that starts and finishes between the watch's creation and its first list is
 * notified only when it reports its times (Firestore, Spanner, Vertex AI and most others do).
 */
import type {Operation, Registration} from '../core/model';
import {readOperation} from '../core/policy';
import {operationKey, type Watch} from '../core/watch';

/**
 * - `register`: running and new: a registration of the watch is made, and polled or finished by a later list;
 * - `notify`: new, and already done after the watch began: notified from the list entry;
 * - `finish`: the watch's pending registration, done now: finished from the list entry, without a poll;
 * - `baseline`: done before the watch began, seen by its first list: remembered, never notified;
 * - `skip`: known already, or done before the watch began.
 */
export type EntryAction =
  'register' | 'notify' | 'finish' | 'baseline' | 'skip';

/** An RFC 3339 time as epoch milliseconds, or undefined. */
function timeOf(value: unknown): number | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** When the operation says it ended, or else started; undefined when it says neither. */
function reportedTimes(operation: Operation): {end?: number; start?: number} {
  const metadata = (operation.metadata ?? {}) as Record<string, unknown>;
  const generic = (metadata.genericMetadata ?? {}) as Record<string, unknown>;
  return {
    end:
      timeOf(metadata.endTime) ??
      timeOf(operation.endTime) ??
      timeOf(generic.updateTime),
    start:
      timeOf(metadata.startTime) ??
      timeOf(operation.startTime) ??
      timeOf(generic.createTime) ??
      timeOf(metadata.createTime),
  };
}

/** Whether a done operation, new to the watch, was done after the watch began. */
function doneSinceWatchBegan(
  watch: Pick<Watch, 'createdAt' | 'lists'>,
  operation: Operation & {name: string},
  baseline: ReadonlySet<string>,
): boolean {
  const {end, start} = reportedTimes(operation);
  if (end !== undefined) return end >= watch.createdAt;
  if (start !== undefined && start >= watch.createdAt) return true;
  return watch.lists > 0 && !baseline.has(operationKey(operation.name));
}

/**
 * What to do with one list entry.
 * @param existing the watch's registration of the operation, if it has one.
 * @param baseline the keys of the first list's done operations.
 */
export function planEntry(
  watch: Pick<Watch, 'createdAt' | 'lists' | 'style'>,
  operation: Operation & {name: string},
  existing: Pick<Registration, 'state'> | undefined,
  baseline: ReadonlySet<string>,
): EntryAction {
  const {done} = readOperation(operation, watch.style);
  if (existing) return existing.state === 'pending' && done ? 'finish' : 'skip';
  if (!done) return 'register';
  if (doneSinceWatchBegan(watch, operation, baseline)) return 'notify';
  return watch.lists === 0 ? 'baseline' : 'skip';
}
