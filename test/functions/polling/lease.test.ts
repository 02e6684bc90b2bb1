/** The poller's lease on the real Firestore emulator. */
import {Firestore} from '@google-cloud/firestore';
import {
  PollLease,
  RENEWALS_PER_LEASE,
  SILENT_SHARE,
} from '../../../functions/polling/lease';
import {leaseTimings} from '../../../functions/polling/lease-timings';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';

const firestore = new Firestore({projectId: TEST_PROJECT});
let clock = Date.now();
const now = () => clock;
const lease = (collection: string, holder: string) =>
  new PollLease(firestore, collection, holder, 10_000, now);

afterAll(() => firestore.terminate());

describe('PollLease', () => {
  it('lets one holder in at a time, and the next once it runs out', async () => {
    const collection = uniqueName('lease');
    const first = lease(collection, 'first');
    const second = lease(collection, 'second');
    expect(await first.acquire()).toBe(true);
    expect(first.validUntil).toBe(clock + 10_000);
    expect(await second.acquire()).toBe(false);

    clock += 5_000;
    expect(await first.renew()).toBe(true);
    clock += 9_000;
    expect(await second.acquire()).toBe(false);

    clock += 2_000;
    expect(await second.acquire()).toBe(true);
    expect(await first.renew()).toBe(false);
    await first.release();
    expect(await lease(collection, 'third').acquire()).toBe(false);
  });

  it('is free again as soon as its holder releases it', async () => {
    const collection = uniqueName('lease');
    const first = lease(collection, 'first');
    expect(await first.acquire()).toBe(true);
    await first.release();
    expect(first.validUntil).toBe(0);
    expect(await lease(collection, 'second').acquire()).toBe(true);
  });

  it('has one winner when many ask at once', async () => {
    const collection = uniqueName('lease');
    const results = await Promise.all(
      Array.from({length: 8}, (_, n) => lease(collection, `h${n}`).acquire()),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('a dead holder', () => {
  const LEASE_MS = 10_000;
  const renewEveryMs = leaseTimings(LEASE_MS).renewEveryMs;
  /** Claims for a whole budget, so a tick that finds it has no hand-over to wait for. */
  const busy = () => ({pollsUntil: clock + 60_000, slot: true});
  /** A sleep that moves the clock, and lets the dead or live holder do what it does meanwhile. */
  const sleeper =
    (meanwhile: () => Promise<unknown> = async () => {}) =>
    async (ms: number) => {
      clock += ms;
      await meanwhile();
    };

  it('is presumed dead after two missed renewals, as the renewals lease-timings sets say', () => {
    expect(renewEveryMs).toBe(LEASE_MS / RENEWALS_PER_LEASE);
    expect(LEASE_MS * SILENT_SHARE).toBeCloseTo(2 * renewEveryMs);
  });

  it('a tick that finds its lease waits, and takes it over within two renewal intervals of it running out', async () => {
    const collection = uniqueName('lease');
    const dead = lease(collection, 'dead');
    expect(await dead.acquire(clock + 60_000)).toBe(true);
    const runsOutAt = dead.validUntil;
    // It crashed a moment after its claim: no renewal ever comes.
    clock += 1000;
    const next = lease(collection, 'next');
    const taken = await next.acquireOnHandOver(busy, 0, sleeper());
    expect(taken).toBeDefined();
    expect(clock).toBeGreaterThanOrEqual(runsOutAt);
    expect(clock - runsOutAt).toBeLessThanOrEqual(2 * renewEveryMs);
  });

  it('a holder that renews is at work: a tick that finds it stands down, after seeing one renewal', async () => {
    const collection = uniqueName('lease');
    const alive = lease(collection, 'alive');
    expect(await alive.acquire(clock + 60_000)).toBe(true);
    let renewedAt = clock;
    const renewing = async () => {
      if (clock - renewedAt >= renewEveryMs) {
        renewedAt = clock;
        expect(await alive.renew()).toBe(true);
      }
    };
    const began = clock;
    const other = lease(collection, 'other');
    expect(
      await other.acquireOnHandOver(busy, 0, sleeper(renewing)),
    ).toBeUndefined();
    expect(clock - began).toBeLessThanOrEqual(2 * renewEveryMs);
    expect(alive.validUntil).toBeGreaterThan(clock);
  });
});
