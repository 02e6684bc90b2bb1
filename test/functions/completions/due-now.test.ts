/**
 * How completion events make registrations due (completions/due-now.ts), on the Firestore emulator with times
 * given: at most once per EVENT_INTERVAL_MS for one registration, never sooner than the poller's floor after its
 * last poll, and nothing written for an event that changes nothing.
 */
import {Firestore, Timestamp} from '@google-cloud/firestore';
import {
  DueNow,
  EVENT_INTERVAL_MS,
} from '../../../functions/completions/due-now';
import {completionKeyOf} from '../../../functions/core/completion-events';
import {MIN_POLL_INTERVAL_MS} from '../../../functions/core/policy';
import {RegistrationStore} from '../../../functions/registration/store';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {newRegistration} from '../../support/new-registration';

const firestore = new Firestore({projectId: TEST_PROJECT});
const RETENTION_MS = 86_400_000;

// As in production, the store's BulkWriter stays open, so the client is not terminated.

it('makes a registration due at most once per interval, and not sooner than the floor after its last poll', async () => {
  const collection = uniqueName('operations');
  const store = new RegistrationStore(firestore, collection, RETENTION_MS);
  const request = newRegistration(
    'firestore.googleapis.com',
    `projects/p/databases/(default)/operations/due-${Date.now()}`,
    `projects/${TEST_PROJECT}/topics/t`,
  );
  const start = Date.now();
  const {registration} = await store.register(request, 'a@example.com', start);
  const ref = firestore.collection(collection).doc(registration.id);
  // Polled once: next poll far away.
  await ref.update({
    lastPolledAt: Timestamp.fromMillis(start + 100),
    nextPollAt: Timestamp.fromMillis(start + 3_600_000),
  });
  const key = completionKeyOf(request.operation)!;
  const due = new DueNow(firestore, collection, RETENTION_MS);
  const read = async () => (await ref.get()).data()!;

  const first = start + 500;
  expect(await due.markDue(key, first)).toEqual([registration.id]);
  const marked = await read();
  // Half a second after its last poll: due at the floor, not at once.
  expect(marked.nextPollAt.toMillis()).toBe(start + 100 + MIN_POLL_INTERVAL_MS);
  expect(marked.eventDueAt.toMillis()).toBe(first);

  // Polled again, far off once more; a second event within the interval changes nothing.
  await ref.update({
    lastPolledAt: Timestamp.fromMillis(start + 1200),
    nextPollAt: Timestamp.fromMillis(start + 3_600_000),
  });
  const polled = await ref.get();
  expect(await due.markDue(key, first + EVENT_INTERVAL_MS - 1)).toEqual([]);
  expect((await ref.get()).updateTime!.isEqual(polled.updateTime!)).toBe(true);

  // Once the interval has passed, an event makes it due again.
  const later = first + EVENT_INTERVAL_MS;
  expect(await due.markDue(key, later)).toEqual([registration.id]);
  expect((await read()).nextPollAt.toMillis()).toBe(later);
});
