/**
 * A completion event and a poll meet: the event's lookup makes the registration due (a write) while a tick is
 * polling it, so the tick's write after publishing meets a newer version. Exactly one notification goes out: the
 * ending is written over the newer version, instead of the registration staying pending to be polled and
 * published again. The real poller and the real completions lookup, on the Firestore emulator.
 */
import {Firestore} from '@google-cloud/firestore';
import {DueNow} from '../../../functions/completions/due-now';
import {parseAllowlists} from '../../../functions/core/allowlists';
import {completionKeyOf} from '../../../functions/core/completion-events';
import type {OperationsClient} from '../../../functions/google/operations-client';
import {RegistrationStore} from '../../../functions/registration/store';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {newRegistration} from '../../support/new-registration';
import {opaquePoller} from '../../support/opaque-poller';

const firestore = new Firestore({
  projectId: TEST_PROJECT,
  ignoreUndefinedProperties: true,
});
const SERVICE = 'firestore.googleapis.com';
const RETENTION_MS = 86_400_000;

it('an event that makes the registration due while it is polled: one notification, and the watch ends', async () => {
  const collection = uniqueName('race');
  const name = `projects/${TEST_PROJECT}/databases/(default)/operations/race-1`;
  const registered = newRegistration(
    SERVICE,
    name,
    `projects/${TEST_PROJECT}/topics/t`,
  );
  const {registration} = await new RegistrationStore(
    firestore,
    collection,
    RETENTION_MS,
  ).register(registered, 'anonymous', Date.now());
  const key = completionKeyOf(registered.operation)!;
  const due = new DueNow(firestore, collection, RETENTION_MS);
  let marked: string[] = [];
  const client = {
    get: async () => {
      // The completions function, its clock a little behind the poller's, sees the registration not yet due and
      // makes it due: a write the tick's own write after this poll will meet.
      marked = await due.markDue(key, registration.nextPollAt - 1);
      return {
        kind: 'operation' as const,
        operation: {name, done: true, response: {}},
      };
    },
  } as unknown as OperationsClient;
  const published: string[] = [];
  const poller = opaquePoller(firestore, collection, {
    client,
    allowlists: parseAllowlists({
      GOOGLE_CLOUD_PROJECT: TEST_PROJECT,
      WATCH_SERVICES: SERVICE,
    }),
    sink: {
      publish: async (_topic, message) => {
        published.push(message.attributes.registrationId);
        return 'id';
      },
    },
  });

  await poller.tick();
  await poller.tick();

  expect(marked).toEqual([registration.id]);
  expect(published).toEqual([registration.id]);
  const stored = await firestore
    .collection(collection)
    .doc(registration.id)
    .get();
  expect(stored.get('state')).toBe('succeeded');
});
