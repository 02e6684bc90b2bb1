/**
 * The lease's margins under slow dependencies: a tick on the real Firestore emulator (its lease, its due
 * registrations and their writes), with the operations API answering "done" at once and a notification sink whose
 * timing each test sets.
 */
import {Firestore} from '@google-cloud/firestore';
import type {OperationsClient} from '../../../functions/google/operations-client';
import {createLogger} from '../../../functions/platform/log';
import {DueRegistrations} from '../../../functions/polling/due-registrations';
import {PollLease} from '../../../functions/polling/lease';
import {leaseTimings} from '../../../functions/polling/lease-timings';
import {parseAllowlists} from '../../../functions/core/allowlists';
import {Poller} from '../../../functions/polling/poller';
import type {TickCounts} from '../../../functions/polling/tick-context';
import type {NotificationSink} from '../../../functions/notify/publisher';
import {RegistrationStore} from '../../../functions/registration/store';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {newRegistration} from '../../support/new-registration';

const LEASE_MS = 3000;
const RETENTION_MS = 86_400_000;
const TOPIC = `projects/${TEST_PROJECT}/topics/never-used`;

const firestore = new Firestore({projectId: TEST_PROJECT});
/**
 * The poller's and the registration store's own client, as in production: their BulkWriters stay open (the
 * functions never close them), so this one is not terminated.
 */
const pollerFirestore = new Firestore({projectId: TEST_PROJECT});
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

afterAll(() => firestore.terminate());

/** A lease whose renewals answer `slowMs` late, counting how many are under way at once. */
class SlowLease extends PollLease {
  renewals = 0;
  private active = 0;
  mostAtOnce = 0;

  constructor(
    collection: string,
    holder: string,
    private readonly slowMs: number,
  ) {
    super(firestore, collection, holder, LEASE_MS);
  }

  override async renew(): Promise<boolean> {
    this.renewals++;
    this.mostAtOnce = Math.max(this.mostAtOnce, ++this.active);
    try {
      const held = await super.renew();
      await sleep(this.slowMs);
      return held;
    } finally {
      this.active--;
    }
  }
}

/** A lease that says when a renewal first found it taken. */
class LosableLease extends PollLease {
  private found: () => void = () => {};
  readonly lost = new Promise<void>(resolve => (this.found = resolve));

  constructor(collection: string, holder: string, leaseMs: number) {
    super(firestore, collection, holder, leaseMs);
  }

  override async renew(): Promise<boolean> {
    const held = await super.renew();
    if (!held) this.found();
    return held;
  }
}

interface Setup {
  collection: string;
  ids: string[];
  logs: string[];
  tick(): Promise<TickCounts>;
}

/** `count` pending registrations due now, and a poller whose sink is `sink` and whose lease is `lease`. */
async function setup(
  count: number,
  sink: NotificationSink,
  lease: (collection: string, holder: string) => PollLease,
  leaseMs = LEASE_MS,
): Promise<Setup> {
  const collection = uniqueName('margins');
  const store = new RegistrationStore(
    pollerFirestore,
    collection,
    RETENTION_MS,
  );
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const name = `projects/p/databases/(default)/operations/m-${n}`;
    const {registration} = await store.register(
      newRegistration('firestore.googleapis.com', name, TOPIC),
      'anonymous',
      Date.now(),
    );
    ids.push(registration.id);
  }
  const client = {
    get: async () => ({
      kind: 'operation' as const,
      operation: {name: 'x', done: true, response: {}},
    }),
  } as unknown as OperationsClient;
  const logs: string[] = [];
  const poller = new Poller({
    due: new DueRegistrations(pollerFirestore, collection, RETENTION_MS),
    lease: holder => lease(collection, holder),
    client,
    allowlists: parseAllowlists({
      GOOGLE_CLOUD_PROJECT: TEST_PROJECT,
      WATCH_PROJECTS: '*',
    }),
    sink,
    log: createLogger(line => logs.push(line)),
    budgetMs: 10_000,
    concurrency: 1,
    leaseMs,
    publishGraceMs: 3_600_000,
    idleRecheckMs: 100,
  });
  return {collection, ids, logs, tick: () => poller.tick()};
}

async function states(collection: string, ids: string[]): Promise<string[]> {
  const snapshots = await firestore.getAll(
    ...ids.map(id => firestore.collection(collection).doc(id)),
  );
  return snapshots.map(snapshot => snapshot.get('state') as string);
}

const timings = leaseTimings(LEASE_MS);
/** A sink that answers each publish after `ms`, recording when each started. */
function delayedSink(ms: number) {
  const started: number[] = [];
  const sink: NotificationSink = {
    async publish() {
      started.push(Date.now());
      await sleep(ms);
      return 'id';
    },
  };
  return {sink, started};
}

describe('lease timings', () => {
  it('fence a poll for its publish and its write, within half the lease', () => {
    expect(timings.fenceMarginMs).toBe(
      timings.publishTimeoutMs + timings.writeDeadlineMs,
    );
    expect(timings.fenceMarginMs).toBeLessThanOrEqual(LEASE_MS / 2);
    // Renewals that come on time never fence a tick: after one, more than the margin is left until the next.
    expect(LEASE_MS - timings.renewEveryMs).toBeGreaterThan(
      timings.fenceMarginMs,
    );
    expect(leaseTimings(600_000).publishTimeoutMs).toBe(20_000);
  });
});

describe('a tick under slow dependencies', () => {
  it('a renewal slower than the renewal period: renewals never overlap, and the tick finishes its work', async () => {
    let slow: SlowLease | undefined;
    const slowMs = timings.renewEveryMs * 1.5;
    const {sink} = delayedSink(250);
    const {collection, ids, logs, tick} = await setup(8, sink, (c, holder) => {
      slow = new SlowLease(c, holder, slowMs);
      return slow;
    });
    const counts = await tick();

    expect(slow!.renewals).toBeGreaterThanOrEqual(2);
    expect(slow!.mostAtOnce).toBe(1);
    expect(logs.join('\n')).not.toContain('tick stopped early');
    expect(counts.published).toBe(8);
    expect(await states(collection, ids)).toEqual(ids.map(() => 'succeeded'));
  });

  it('a publish slower than the publish timeout: given up in time, the registration stays pending', async () => {
    const {sink} = delayedSink(60_000);
    const {collection, ids, logs, tick} = await setup(
      1,
      sink,
      (c, holder) => new PollLease(firestore, c, holder, LEASE_MS),
    );
    const began = Date.now();
    const counts = await tick();

    expect(counts.published).toBe(0);
    // The tick ends with the budget, not with the hanging publish.
    expect(Date.now() - began).toBeLessThan(20_000);
    const stored = await firestore.collection(collection).doc(ids[0]).get();
    expect(stored.get('state')).toBe('pending');
    expect(stored.get('lastError')).toMatchObject({
      kind: 'publish',
      message: expect.stringContaining(
        `no answer from Pub/Sub in ${timings.publishTimeoutMs} ms`,
      ),
    });
    expect(logs.join('\n')).toContain('publishing to');
  });

  it('a tick that loses its lease mid-publish: that publish is recorded, nothing more starts, the taker keeps the lease', async () => {
    // Long enough that the renewal that finds the lease taken comes well within the publish timeout.
    const leaseMs = 12_000;
    let lease: LosableLease | undefined;
    let collectionName = '';
    let publishes = 0;
    const sink: NotificationSink = {
      async publish() {
        publishes++;
        // Another tick takes the lease while this publish is under way; it ends once this tick has noticed.
        await firestore
          .collection(`${collectionName}_leases`)
          .doc('poller')
          .set({holder: 'taker', until: new Date(Date.now() + 60_000)});
        await lease!.lost;
        return 'id';
      },
    };
    const {collection, ids, logs, tick} = await setup(
      4,
      sink,
      (c, holder) => {
        collectionName = c;
        lease = new LosableLease(c, holder, leaseMs);
        return lease;
      },
      leaseMs,
    );
    const counts = await tick();

    expect(logs.join('\n')).toContain(
      'tick stopped early: lease taken by another tick',
    );
    expect(publishes).toBe(1);
    expect(counts.published).toBe(1);
    const after = await states(collection, ids);
    expect(after.filter(state => state === 'succeeded')).toHaveLength(1);
    expect(after.filter(state => state === 'pending')).toHaveLength(3);
    const stored = await firestore
      .collection(`${collection}_leases`)
      .doc('poller')
      .get();
    expect(stored.get('holder')).toBe('taker');
  });
});
