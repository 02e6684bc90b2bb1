/**
 * No registration is polled by two shards while POLL_SHARDS changes: the ticks of an old deployment (one shard,
 * the whole collection) and a newer one (two shards) run at once, round after round, on the Firestore emulator
 * with the real poller and its shard layout. Each registration's polls all come from one layout at a time (the
 * old one's before the new one's), and each is notified exactly once.
 */
import {Firestore} from '@google-cloud/firestore';
import {bucketRange, leaseId} from '../../../functions/core/shards';
import type {OperationsClient} from '../../../functions/google/operations-client';
import {PollLease} from '../../../functions/polling/lease';
import {ShardLayout} from '../../../functions/polling/shard-layout';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {opaquePoller, registerOpaque} from '../../support/opaque-poller';

const firestore = new Firestore({
  projectId: TEST_PROJECT,
  ignoreUndefinedProperties: true,
});
const OPERATIONS = 16;
/** An operation answers done from its fourth poll, whoever polls it. */
const POLLS_TO_DONE = 4;

it('old and new layouts ticking at once: one layout polls at a time, and nothing is published twice', async () => {
  const collection = uniqueName('layout');
  const names = new Map<string, string>();
  for (let i = 0; i < OPERATIONS; i++) {
    const {registration} = await registerOpaque(
      firestore,
      collection,
      `operations/layout-${i}`,
    );
    names.set(registration.operation.name, registration.id);
  }
  const polls: Array<{layout: number; id: string; at: number}> = [];
  const count = new Map<string, number>();
  const published: string[] = [];
  const startedAt = Date.now();

  function poller(shards: number, instanceStartedAt: number) {
    const client = {
      get: async ({operation}: {operation: {name: string}}) => {
        const id = names.get(operation.name)!;
        polls.push({layout: shards, id, at: Date.now()});
        const n = (count.get(id) ?? 0) + 1;
        count.set(id, n);
        return {
          kind: 'operation' as const,
          operation: {name: operation.name, done: n >= POLLS_TO_DONE},
        };
      },
    } as unknown as OperationsClient;
    return opaquePoller(firestore, collection, {
      client,
      budgetMs: 2500,
      leaseMs: 6000,
      lease: (holder, range) =>
        new PollLease(
          firestore,
          collection,
          holder,
          6000,
          Date.now,
          leaseId(range),
        ),
      layout: new ShardLayout(firestore, collection, shards, instanceStartedAt),
      sink: {
        publish: async (_topic, message) => {
          published.push(message.attributes.registrationId);
          return 'id';
        },
      },
    });
  }
  const old = poller(1, startedAt - 60_000);
  const fresh = poller(2, startedAt);

  const worked = {old: 0, fresh: 0};
  for (let round = 0; round < 6 && published.length < OPERATIONS; round++) {
    const [whole, ...halves] = await Promise.all([
      old.tick(),
      fresh.tick(bucketRange(0, 2)),
      fresh.tick(bucketRange(1, 2)),
    ]);
    if (!whole.leaseHeld) worked.old++;
    if (halves.some(counts => !counts.leaseHeld)) worked.fresh++;
  }

  expect(published.sort()).toEqual([...names.values()].sort());
  expect(worked.fresh).toBeGreaterThan(0);
  // Once the newer layout has polled a registration, the older never polls it again.
  for (const id of names.values()) {
    const mine = polls.filter(poll => poll.id === id);
    const firstNew = mine.findIndex(poll => poll.layout === 2);
    if (firstNew >= 0)
      expect(mine.slice(firstNew).map(poll => poll.layout)).not.toContain(1);
  }
});
