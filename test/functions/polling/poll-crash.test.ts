/**
 * A poll process killed half-way through a tick loses no notification: the real `poll` function in a process of
 * its own is SIGKILLed while it publishes, restarted, and ticked until every registration is notified.
 *
 * A crash may repeat a message (one published, its state write lost with the process) but must never drop one,
 * and must leave nothing pending for good: the killed tick's lease runs out and the next tick takes over.
 */
import {type PulledMessage} from '../../support/emulator-env';
import {
  startStackWithPoller,
  type StackWithPoller,
  type TestStack,
} from '../../support/stack';
import type {SpawnedFunction} from '../../support/poll-process';

const COUNT = 50;
/** Operations finish this far apart, so a tick is always mid-way through some of them. */
const STAGGER_MS = 100;
const API = 'https://firestore.googleapis.com/v1';

let running: StackWithPoller;
let stack: TestStack;
let poller: SpawnedFunction;

beforeAll(async () => {
  running = await startStackWithPoller({
    POLL_BUDGET_SECONDS: '8',
    // Short, so the killed tick's lease runs out soon after the restart.
    POLL_LEASE_SECONDS: '2',
    POLL_REQUEST_TIMEOUT_SECONDS: '2',
    POLL_CONCURRENCY: '8',
  });
  ({stack, poller} = running);
}, 60_000);

afterAll(async () => {
  await running?.stop();
});

it('SIGKILL half-way through a tick: every registration notified, nothing left pending', async () => {
  const ids = new Set<string>();
  const run = Date.now();
  for (let n = 0; n < COUNT; n += 10) {
    const batch = Array.from(
      {length: Math.min(10, COUNT - n)},
      async (_, i) => {
        const name = `projects/p/databases/(default)/operations/crash-${run}-${n + i}`;
        stack.operationsApi.define(name, {
          kind: 'finish',
          afterMs: (n + i) * STAGGER_MS,
        });
        const response = await stack.register({operation: `${API}/${name}`});
        expect(response.status).toBe(201);
        ids.add(response.body.id as string);
      },
    );
    await Promise.all(batch);
  }

  const killedTick = poller.tick();
  const messages: PulledMessage[] = await stack.pull(COUNT / 2, 20_000);
  expect(messages.length).toBeGreaterThan(0);
  await poller.kill('SIGKILL');
  expect((await killedTick).status).toBe(0);
  const notifiedBeforeKill = new Set(
    messages.map(m => m.attributes.registrationId),
  ).size;

  await poller.restart();
  const notified = () =>
    new Set(messages.map(m => m.attributes.registrationId));
  const ticks: number[] = [];
  const deadline = Date.now() + 40_000;
  while (notified().size < COUNT && Date.now() < deadline) {
    const answer = await poller.tick({timeoutMs: 20_000});
    expect(answer.status).toBe(200);
    ticks.push(answer.status);
    messages.push(...(await stack.pull(COUNT, 1000)));
  }
  // A duplicate can arrive after the last new id: collect stragglers.
  messages.push(...(await stack.pull(COUNT, 1500)));

  // Distinct messages per registration: a redelivery (same message id) is Pub/Sub's repeat, not the poller's.
  const byId = new Map<string, number>();
  const seen = new Set<string>();
  for (const message of messages) {
    if (seen.has(message.id)) continue;
    seen.add(message.id);
    const id = message.attributes.registrationId;
    byId.set(id, (byId.get(id) ?? 0) + 1);
  }
  const lost = [...ids].filter(id => !byId.has(id));
  const duplicates = [...byId.values()].reduce((sum, n) => sum + n - 1, 0);
  process.stdout.write(
    `FIGURES poll-crash: ${JSON.stringify({
      registrations: COUNT,
      notifiedBeforeKill,
      messages: seen.size,
      redeliveries: messages.length - seen.size,
      lost: lost.length,
      duplicates,
      ticksAfterRestart: ticks.length,
    })}\n`,
  );

  expect(lost).toEqual([]);
  expect([...byId.keys()].every(id => ids.has(id))).toBe(true);
  const pending = await stack.firestore
    .collection(stack.collection)
    .where('state', '==', 'pending')
    .count()
    .get();
  expect(pending.data().count).toBe(0);
  expect(poller.unexpectedExits).toEqual([]);
});
