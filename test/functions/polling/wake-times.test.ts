/**
 * A tick wakes for the registrations it left pending when they fall due, instead of its next idle look: the
 * slots alone (pure), then a tick on the real Firestore emulator whose idle look is longer than its budget.
 */
import {Firestore} from '@google-cloud/firestore';
import type {OperationsClient} from '../../../functions/google/operations-client';
import {WAKE_SLOT_MS, WakeTimes} from '../../../functions/polling/wake-times';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {opaquePoller, registerOpaque} from '../../support/opaque-poller';

describe('WakeTimes', () => {
  it('wakes at the first slot after now that holds a due time, rounded up to the slot', () => {
    const wake = new WakeTimes(50);
    expect(wake.next(0)).toBeUndefined();
    wake.add(1010);
    wake.add(1040);
    wake.add(3001);
    expect(wake.next(0)).toBe(1050);
    expect(wake.next(1049)).toBe(1050);
    // A slot reached is forgotten: its registrations are read by the sweep that woke for them.
    expect(wake.next(1050)).toBe(3050);
    expect(wake.next(4000)).toBeUndefined();
    expect(wake.next(0)).toBeUndefined();
  });

  it('keeps one entry per slot however many registrations share it', () => {
    const wake = new WakeTimes(WAKE_SLOT_MS);
    for (let at = 10_001; at <= 10_000 + WAKE_SLOT_MS; at++) wake.add(at);
    expect(wake.next(0)).toBe(10_000 + WAKE_SLOT_MS);
    expect(wake.next(10_000 + WAKE_SLOT_MS)).toBeUndefined();
  });
});

describe('a tick on the emulator', () => {
  // As in production, the store's and the poller's BulkWriters stay open, so the client is not terminated.
  const firestore = new Firestore({
    projectId: TEST_PROJECT,
    ignoreUndefinedProperties: true,
  });

  it('polls its own registrations again when they fall due, though its idle look comes only after the budget', async () => {
    const collection = uniqueName('wake');
    const name = 'operations/wake-1';
    // No preset for this host: the forecaster's opaque-operation waits (1 s, then 2 s, ...).
    const {registration} = await registerOpaque(firestore, collection, name);
    let calls = 0;
    const client = {
      get: async () => ({
        kind: 'operation' as const,
        operation: {name, done: ++calls === 3, metadata: {}},
      }),
    } as unknown as OperationsClient;
    const published: string[] = [];
    const poller = opaquePoller(firestore, collection, {
      client,
      sink: {
        publish: async (_topic, notification) => {
          published.push(notification.attributes.registrationId);
          return 'id';
        },
      },
      // Longer than the budget: after the first sweep only a wake-up can poll again within this tick.
      idleRecheckMs: 60_000,
    });
    const counts = await poller.tick();
    expect(calls).toBe(3);
    expect(counts.polled).toBe(3);
    expect(published).toEqual([registration.id]);
    // Then nothing is due within the budget, and the tick ends instead of idling to its end.
    expect(counts.durationMs).toBeLessThan(10_000);
    const stored = await firestore
      .collection(collection)
      .doc(registration.id)
      .get();
    expect(stored.get('state')).toBe('succeeded');
  });
});
