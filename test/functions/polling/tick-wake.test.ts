/**
 * No registration waits for the next Cloud Scheduler call: a create that no running tick will poll wakes one
 * (tick-wake.ts), and a tick that ends for want of due work looks once more after its release (poller.ts), so a
 * registration stored while it was ending is not left behind. On the real Firestore emulator.
 */
import {DocumentReference, Firestore} from '@google-cloud/firestore';
import type {OperationsClient} from '../../../functions/google/operations-client';
import {createLogger, type Logger} from '../../../functions/platform/log';
import {DueRegistrations} from '../../../functions/polling/due-registrations';
import {PollLease, SILENT_SHARE} from '../../../functions/polling/lease';
import type {TickTrigger} from '../../../functions/polling/tick-context';
import {
  leaseId,
  bucketRange,
  shardOwning,
} from '../../../functions/core/shards';
import {
  HOLDER_LOOKS_MS,
  TickWake,
  WAKE_AGAIN_MS,
} from '../../../functions/polling/tick-wake';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {opaquePoller, registerOpaque} from '../../support/opaque-poller';

// As in production, the store's and the poller's BulkWriters stay open, so the client is not terminated.
const firestore = new Firestore({
  projectId: TEST_PROJECT,
  ignoreUndefinedProperties: true,
});

const quiet = createLogger(() => {});

/** A TickWake whose wakes are recorded, on a clock the test moves. */
function recordedWake(
  collection: string,
  options: {shards?: number; send?: () => Promise<unknown>; log?: Logger} = {},
) {
  const clock = {now: Date.now()};
  const sent: number[] = [];
  const wake = new TickWake({
    firestore,
    collection,
    shards: options.shards ?? 1,
    send: async shard => {
      sent.push(shard);
      return options.send?.();
    },
    log: options.log ?? quiet,
    now: () => clock.now,
  });
  return {wake, sent, clock};
}

const lease = (collection: string, holder: string, shards = 1, shard = 0) =>
  new PollLease(
    firestore,
    collection,
    holder,
    15_000,
    Date.now,
    leaseId(bucketRange(shard, shards)),
  );

describe('TickWake', () => {
  it('wakes a tick when no tick holds the lease, once until the lease changes', async () => {
    const collection = uniqueName('wake');
    const {wake, sent} = recordedWake(collection);
    await wake.registered('a');
    expect(sent).toEqual([0]);
    // The woken tick has not claimed the lease yet: the same lease state, no second wake.
    await wake.registered('b');
    expect(sent).toEqual([0]);
    // A tick claimed and released it since: what is stored now may be after its last look.
    const tick = lease(collection, 'tick');
    expect(await tick.acquire(Date.now() + 10_000)).toBe(true);
    await tick.release();
    await wake.registered('c');
    expect(sent).toEqual([0, 0]);
  });

  it('wakes again after WAKE_AGAIN_MS when the lease has not changed, in case a wake was lost', async () => {
    const {wake, sent, clock} = recordedWake(uniqueName('wake'));
    await wake.registered('a');
    clock.now += WAKE_AGAIN_MS - 1;
    await wake.registered('b');
    expect(sent).toEqual([0]);
    clock.now += 1;
    await wake.registered('c');
    expect(sent).toEqual([0, 0]);
  });

  it('sends none while a tick holds the lease with its polling ahead, and one when that polling is about to end', async () => {
    const collection = uniqueName('wake');
    const {wake, sent} = recordedWake(collection);
    const tick = lease(collection, 'tick');
    expect(await tick.acquire(Date.now() + 30_000)).toBe(true);
    await wake.registered('a');
    expect(sent).toEqual([]);

    const endingCollection = uniqueName('wake');
    const ending = lease(endingCollection, 'ending');
    const near = recordedWake(endingCollection);
    expect(await ending.acquire(Date.now() + HOLDER_LOOKS_MS / 2)).toBe(true);
    await near.wake.registered('a');
    expect(near.sent).toEqual([0]);
  });

  it('wakes a tick while the holder has stopped renewing, a crash, though its polling would go on', async () => {
    const collection = uniqueName('wake');
    const {wake, sent, clock} = recordedWake(collection);
    const tick = lease(collection, 'tick');
    expect(await tick.acquire(Date.now() + 30_000)).toBe(true);
    // Within its renewals: at work.
    clock.now += 15_000 * SILENT_SHARE - 100;
    await wake.registered('a');
    expect(sent).toEqual([]);
    // Two renewals missed: presumed dead.
    clock.now += 200;
    await wake.registered('b');
    expect(sent).toEqual([0]);
  });

  it('reads the lease once for every create stored before the read, and wakes the shard that owns each', async () => {
    const collection = uniqueName('wake');
    const {wake, sent} = recordedWake(collection, {shards: 4});
    const ids = Array.from({length: 40}, (_, n) => `registration-${n}`);
    const shards = new Set(ids.map(id => shardOwning(id, 4)));
    expect(shards.size).toBe(4);
    const reads = jest.spyOn(DocumentReference.prototype, 'get');
    try {
      await Promise.all(ids.map(id => wake.registered(id)));
      expect(reads).toHaveBeenCalledTimes(4);
    } finally {
      reads.mockRestore();
    }
    expect([...sent].sort()).toEqual([0, 1, 2, 3]);

    // A shard whose tick is at work gets no wake.
    const heldCollection = uniqueName('wake');
    const held = lease(heldCollection, 'tick', 4, 2);
    const other = recordedWake(heldCollection, {shards: 4});
    expect(await held.acquire(Date.now() + 30_000)).toBe(true);
    await Promise.all(ids.map(id => other.wake.registered(id)));
    expect([...other.sent].sort()).toEqual([0, 1, 3]);
  });

  it('logs a failed wake, never fails the registration, and tries again with the next one', async () => {
    const lines: string[] = [];
    let fail = true;
    const {wake, sent} = recordedWake(uniqueName('wake'), {
      send: async () => {
        if (fail) throw new Error('Pub/Sub is away');
      },
      log: createLogger(line => lines.push(line)),
    });
    await expect(wake.registered('a')).resolves.toBeUndefined();
    expect(lines.map(line => JSON.parse(line))).toEqual([
      expect.objectContaining({
        severity: 'WARNING',
        error: 'Pub/Sub is away',
        shard: 0,
      }),
    ]);
    fail = false;
    await wake.registered('b');
    expect(sent).toEqual([0, 0]);
  });
});

describe('ticks and wakes on the emulator', () => {
  /** A poller whose operations are all done at their first poll; `due` may be wrapped. */
  function poller(
    collection: string,
    options: {
      budgetMs?: number;
      due?: (due: DueRegistrations) => DueRegistrations;
      log?: Logger;
    } = {},
  ) {
    const polled: string[] = [];
    const claims: number[] = [];
    const due = new DueRegistrations(firestore, collection, 86_400_000);
    const client = {
      get: async (registration: {operation: {name: string}}) => {
        polled.push(registration.operation.name);
        return {
          kind: 'operation' as const,
          operation: {name: registration.operation.name, done: true},
        };
      },
    } as unknown as OperationsClient;
    const instance = opaquePoller(firestore, collection, {
      due: options.due ? options.due(due) : due,
      lease: holder => {
        const made = new PollLease(firestore, collection, holder, 15_000);
        const claim = made.acquireOnHandOver.bind(made);
        made.acquireOnHandOver = async (...args) => {
          const until = await claim(...args);
          if (until !== undefined) claims.push(until);
          return until;
        };
        return made;
      },
      client,
      log: options.log ?? quiet,
      budgetMs: options.budgetMs ?? 10_000,
    });
    return {
      polled,
      claims,
      tick: (trigger?: TickTrigger) => instance.tick(undefined, trigger),
    };
  }

  const register = (collection: string, name: string) =>
    registerOpaque(firestore, collection, name);

  it('a tick that ends for want of due work looks once more after its release, and polls what was stored meanwhile', async () => {
    const collection = uniqueName('wake');
    // The registration lands just after the tick's last look inside its lease: its registrar saw the lease held,
    // so no wake comes; only the look after the release can find it.
    let stored = false;
    const {polled, tick} = poller(collection, {
      due: due => {
        const anyDueBefore = due.anyDueBefore.bind(due);
        due.anyDueBefore = async (range, by) => {
          const any = await anyDueBefore(range, by);
          if (!stored) {
            stored = true;
            await register(collection, 'operations/late');
          }
          return any;
        };
        return due;
      },
    });
    const counts = await tick();
    expect(polled).toEqual(['operations/late']);
    expect(counts.succeeded).toBe(1);
    expect(counts.durationMs).toBeLessThan(10_000);
  });

  it('a tick whose look after its release fails logs it and answers its counts: its work is done', async () => {
    const collection = uniqueName('wake');
    await register(collection, 'operations/first');
    const lines: string[] = [];
    let looks = 0;
    const {polled, tick} = poller(collection, {
      log: createLogger(line => lines.push(line)),
      due: due => {
        const anyDueBefore = due.anyDueBefore.bind(due);
        due.anyDueBefore = async (range, by) => {
          // The look inside the lease answers; the one after the release finds Firestore away.
          if (++looks === 2) throw new Error('Firestore is away');
          return anyDueBefore(range, by);
        };
        return due;
      },
    });
    const counts = await tick();
    expect(polled).toEqual(['operations/first']);
    expect(counts.succeeded).toBe(1);
    expect(looks).toBe(2);
    expect(lines.map(line => JSON.parse(line))).toContainEqual(
      expect.objectContaining({
        severity: 'WARNING',
        message: 'Firestore is away',
      }),
    );
  });

  it("a registration's tick polls to the end of the scheduled slot, or for a whole budget as the slot when none runs", async () => {
    const collection = uniqueName('wake');
    const {claims, tick} = poller(collection, {budgetMs: 10_000});
    // No scheduled tick has held the lease: a whole budget, which becomes the slot.
    let before = Date.now();
    await tick('registration');
    const firstSlot = claims[0];
    expect(firstSlot).toBeGreaterThanOrEqual(before + 10_000);
    // Within that slot, a registration's tick ends where it ends, as a completion's tick does not.
    await tick('registration');
    expect(claims[1]).toBe(firstSlot);
    before = Date.now();
    await tick('completion');
    expect(claims[2]).toBeGreaterThanOrEqual(before + 10_000);
    await tick('registration');
    expect(claims[3]).toBe(firstSlot);
    // A scheduled tick starts the next slot.
    before = Date.now();
    await tick('scheduler');
    expect(claims[4]).toBeGreaterThanOrEqual(before + 10_000);
    await tick('registration');
    expect(claims[5]).toBe(claims[4]);
  });
});
