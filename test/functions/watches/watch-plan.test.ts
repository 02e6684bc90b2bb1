/**
 * The rules of one list entry (functions/watches/watch-plan.ts): what was done before the watch began is never
 * notified, what finished since is, and a known operation is acted on only to finish its pending registration.
 */
import {operationKey} from '../../../functions/core/watch';
import {planEntry} from '../../../functions/watches/watch-plan';

const BEGAN = Date.parse('2026-01-01T12:00:00Z');
const NAME = 'projects/p/databases/d/operations/A';
const first = {createdAt: BEGAN, lists: 0, style: 'longrunning' as const};
const later = {...first, lists: 3};
const none = new Set<string>();
const at = (offsetMs: number) => new Date(BEGAN + offsetMs).toISOString();

describe('a new operation', () => {
  it('running: becomes a registration, at the first list or any later', () => {
    expect(planEntry(first, {name: NAME}, undefined, none)).toBe('register');
    expect(planEntry(later, {name: NAME, done: false}, undefined, none)).toBe(
      'register',
    );
  });

  it('done, reporting its end: notified only when it ended since the watch began', () => {
    const endedAfter = {name: NAME, done: true, metadata: {endTime: at(5)}};
    const endedBefore = {name: NAME, done: true, metadata: {endTime: at(-5)}};
    expect(planEntry(first, endedAfter, undefined, none)).toBe('notify');
    expect(planEntry(later, endedAfter, undefined, none)).toBe('notify');
    expect(planEntry(first, endedBefore, undefined, none)).toBe('baseline');
    expect(planEntry(later, endedBefore, undefined, none)).toBe('skip');
  });

  it('done, reporting only a start after the watch began: notified', () => {
    const operation = {name: NAME, done: true, metadata: {startTime: at(1)}};
    expect(planEntry(first, operation, undefined, none)).toBe('notify');
  });

  it('done, reporting no time: the first list takes it as the baseline; a later one notifies it unless in it', () => {
    const operation = {name: NAME, done: true};
    expect(planEntry(first, operation, undefined, none)).toBe('baseline');
    expect(planEntry(later, operation, undefined, none)).toBe('notify');
    const baseline = new Set([operationKey(NAME)]);
    expect(planEntry(later, operation, undefined, baseline)).toBe('skip');
  });
});

describe('an operation the watch registered', () => {
  it('is finished from the list once done, and left alone otherwise', () => {
    const done = {name: NAME, done: true, error: {code: 9}};
    expect(planEntry(later, done, {state: 'pending'}, none)).toBe('finish');
    expect(planEntry(later, {name: NAME}, {state: 'pending'}, none)).toBe(
      'skip',
    );
    for (const state of ['succeeded', 'cancelled', 'poll_error'] as const)
      expect(planEntry(later, done, {state}, none)).toBe('skip');
  });
});

test('baseline keys are short and tell names apart', () => {
  expect(operationKey(NAME)).toHaveLength(11);
  expect(operationKey(NAME)).not.toBe(operationKey(`${NAME}B`));
});
