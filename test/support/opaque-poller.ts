/**
 * A Poller on the Firestore emulator for operations of a host with no preset, so the forecaster's opaque-operation
 * waits place its polls, with a test's defaults: a 10 s budget, 4 polls at once, a 15 s lease, a sink that accepts
 * everything and a silent log. The test brings the client; `deps` replaces any other dependency. And the
 * registrations it polls, stored as the API stores them.
 */
import type {Firestore} from '@google-cloud/firestore';
import {createLogger} from '../../functions/platform/log';
import {DueRegistrations} from '../../functions/polling/due-registrations';
import {PollLease} from '../../functions/polling/lease';
import {Poller} from '../../functions/polling/poller';
import type {PollerDependencies} from '../../functions/polling/tick-context';
import {parseAllowlists} from '../../functions/core/allowlists';
import {RegistrationStore} from '../../functions/registration/store';
import {TEST_PROJECT} from './emulator-env';
import {newRegistration} from './new-registration';

/** The host of the operations: listed in WATCH_SERVICES, without a preset. */
export const OPAQUE_SERVICE = 'opaque.example.com';
/** How long finished registrations are kept. */
const RETENTION_MS = 86_400_000;

export function opaquePoller(
  firestore: Firestore,
  collection: string,
  deps: Pick<PollerDependencies, 'client'> & Partial<PollerDependencies>,
): Poller {
  return new Poller({
    due: new DueRegistrations(firestore, collection, RETENTION_MS),
    lease: holder => new PollLease(firestore, collection, holder, 15_000),
    allowlists: parseAllowlists({
      GOOGLE_CLOUD_PROJECT: TEST_PROJECT,
      WATCH_SERVICES: OPAQUE_SERVICE,
    }),
    sink: {publish: async () => 'id'},
    log: createLogger(() => {}),
    budgetMs: 10_000,
    concurrency: 4,
    leaseMs: 15_000,
    publishGraceMs: 3_600_000,
    ...deps,
  });
}

/** Registers operation `name` of {@link OPAQUE_SERVICE} in `collection`, owned by `anonymous`, due now. */
export function registerOpaque(
  firestore: Firestore,
  collection: string,
  name: string,
) {
  return new RegistrationStore(firestore, collection, RETENTION_MS).register(
    newRegistration(OPAQUE_SERVICE, name, `projects/${TEST_PROJECT}/topics/t`),
    'anonymous',
    Date.now(),
  );
}
