/**
 * Overlapping ticks: three at once, ten times over (three in the quick profile, see profile.ts), while operations finish throughout. Cloud Scheduler retries
 * and a slow tick meeting the next one both overlap ticks; so do several function instances. Rounds alternate
 * between three ticks on one process and one tick on each of three processes.
 *
 * The lease lets one tick work at a time, so no registration may be published twice: 0 duplicates. Each round
 * starts with the lease free, so the three really contend, and a tick that ends must leave it free again.
 */
import {startStack, type TestStack} from '../support/stack';
import {startPollProcess, type SpawnedFunction} from '../support/poll-process';
import {
  Collector,
  account,
  printFigures,
  registerMany,
  seededRandom,
  sleep,
  stackEnv,
  stateCounts,
} from './harness';
import {byProfile} from './profile';

const OPERATIONS = byProfile({quick: 100, full: 300});
const DURATION_MS = byProfile({quick: 10_000, full: 20_000});
const ROUNDS = byProfile({quick: 3, full: 10});

let stack: TestStack;
const pollers: SpawnedFunction[] = [];

beforeAll(async () => {
  stack = await startStack();
  const env = stackEnv(stack, {
    POLL_BUDGET_SECONDS: '2',
    POLL_LEASE_SECONDS: '3',
    POLL_REQUEST_TIMEOUT_SECONDS: '2',
  });
  for (let n = 0; n < 3; n++) pollers.push(await startPollProcess(env));
});

afterAll(async () => {
  await Promise.all(pollers.map(poller => poller.stop()));
  await stack?.stop();
});

const leaseDoc = () =>
  stack.firestore.collection(`${stack.collection}_leases`).doc('poller');

async function leaseFreeNow(): Promise<boolean> {
  const lease = await leaseDoc().get();
  return !lease.exists || lease.get('until').toMillis() <= Date.now();
}

/** Waits until no tick holds the lease: released, or run out. */
async function leaseFree(): Promise<void> {
  while (!(await leaseFreeNow())) await sleep(100);
}

it(`3 ticks at once, ${ROUNDS} times over: every registration published exactly once`, async () => {
  const random = seededRandom(5);
  const began = Date.now();
  const watched = await registerMany(stack, OPERATIONS, () => ({
    kind: 'finish',
    afterMs: Math.floor(random() * DURATION_MS),
  }));
  const collector = await new Collector(stack.subscription.name).start(
    stack.subscription,
  );

  const rounds: {worked: number; leaseHeld: number; statuses: number[]}[] = [];
  // Whether the working tick left its lease behind (a failed release), seen right after each round.
  const leftBehind: boolean[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Three ticks contending for a free lease, not three finding the last round's lease still running.
    await leaseFree();
    const targets =
      round % 2 === 0 ? pollers : [pollers[0], pollers[0], pollers[0]];
    const answers = await Promise.all(targets.map(p => p.tick()));
    const held = answers.filter(
      a => (a.body as {leaseHeld?: boolean}).leaseHeld === true,
    ).length;
    leftBehind.push(!(await leaseFreeNow()));
    rounds.push({
      worked: answers.length - held,
      leaseHeld: held,
      statuses: answers.map(a => a.status),
    });
  }
  // Then one tick at a time until every operation is done and notified.
  let extraTicks = 0;
  while (
    !(await collector.waitFor(
      watched.map(w => w.id),
      100,
    )) &&
    Date.now() - began < 120_000
  ) {
    await pollers[extraTicks % 3].tick();
    extraTicks++;
  }
  await collector.settle(3000);
  await collector.stop();

  const result = account(watched, collector);
  printFigures('overlap', {
    operations: OPERATIONS,
    rounds: ROUNDS,
    ticksAtOnce: 3,
    workedPerRound: rounds.map(r => r.worked),
    leaseLeftHeldAfterRound: leftBehind.filter(Boolean).length,
    lost: result.lost.length,
    duplicates: result.duplicates,
    redeliveries: result.redeliveries,
    extraTicks,
    runMs: Date.now() - began,
  });

  for (const round of rounds) {
    expect(round.statuses).toEqual([200, 200, 200]);
    expect(round.worked).toBeGreaterThanOrEqual(1);
  }
  // A tick that ends gives its lease up, even with a renewal under way at that moment.
  expect(leftBehind.filter(Boolean)).toEqual([]);
  expect(result.duplicates).toBe(0);
  expect(result.lost).toEqual([]);
  expect(result.strangers).toBe(0);
  expect(await stateCounts(stack.firestore, stack.collection)).toEqual({
    succeeded: OPERATIONS,
  });
  for (const poller of pollers) expect(poller.unexpectedExits).toEqual([]);
});
