/**
 * Firestore down for 30 s mid-run (15 s in the quick profile, see profile.ts). The poll process reaches the emulator through a TCP proxy that is cut
 * (connections refused and reset, as a dead server looks), while the test reads the emulator directly: an
 * emulator restart would wipe every registration and leave "nothing lost" untestable.
 *
 * While Firestore is away every tick must answer 5xx, promptly, so Cloud Scheduler's retry and the next
 * schedule carry on, and the process must stay up. Afterwards every operation must be notified: nothing lost.
 */
import {startStack, type TestStack} from '../support/stack';
import {startPollProcess, type SpawnedFunction} from '../support/poll-process';
import {
  Collector,
  Driver,
  account,
  percentiles,
  printFigures,
  registerMany,
  seededRandom,
  sleep,
  stackEnv,
  stateCounts,
  tickSummary,
} from './harness';
import {byProfile} from './profile';
import {TcpProxy} from './tcp-proxy';

const OPERATIONS = byProfile({quick: 150, full: 300});
const DURATION_MS = byProfile({quick: 25_000, full: 60_000});
/**
 * Quick: 15 s, so that after the tick caught by the cut has failed (up to about two leases and a request) a
 * new tick still begins while Firestore is away.
 */
const OUTAGE_MS = byProfile({quick: 15_000, full: 30_000});
/** Ticks that must begin, and fail fast, during the outage. */
const MIN_FAILING_TICKS = byProfile({quick: 1, full: 2});
/** How long the run goes on normally before Firestore goes away. */
const BEFORE_OUTAGE_MS = byProfile({quick: 8_000, full: 15_000});
const BUDGET_SECONDS = 10;
const REQUEST_TIMEOUT_SECONDS = 2;
const LEASE_SECONDS = 3;
/** Time for the HTTP exchange and the process's own scheduling on a busy machine. */
const SLACK_SECONDS = 2;
/** A tick that begins while Firestore is away fails claiming the lease: one Firestore call, bounded by the lease. */
const NEW_TICK_BOUND_MS = (LEASE_SECONDS + SLACK_SECONDS) * 1000;
/**
 * The tick Firestore is taken from under: its budget, then the polls under way (one operations request, one
 * write), the final flush and the release; each Firestore call is bounded by the lease, the loop's exit too.
 */
const CAUGHT_TICK_BOUND_MS =
  (BUDGET_SECONDS +
    REQUEST_TIMEOUT_SECONDS +
    4 * LEASE_SECONDS +
    SLACK_SECONDS) *
  1000;

let stack: TestStack;
let proxy: TcpProxy;
let poller: SpawnedFunction;

beforeAll(async () => {
  stack = await startStack();
  proxy = await TcpProxy.start(process.env.FIRESTORE_EMULATOR_HOST!);
  poller = await startPollProcess(
    stackEnv(
      stack,
      {
        POLL_BUDGET_SECONDS: String(BUDGET_SECONDS),
        POLL_LEASE_SECONDS: String(LEASE_SECONDS),
        POLL_REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS),
      },
      {firestoreHost: proxy.host},
    ),
  );
});

afterAll(async () => {
  await poller?.stop();
  await proxy?.stop();
  await stack?.stop();
});

it(`Firestore away for ${OUTAGE_MS / 1000} s: ticks fail fast with 5xx, the process stays up, nothing lost`, async () => {
  const random = seededRandom(31);
  const began = Date.now();
  const watched = await registerMany(stack, OPERATIONS, () => ({
    kind: 'finish',
    afterMs: Math.floor(random() * DURATION_MS),
  }));
  const collector = await new Collector(stack.subscription.name).start(
    stack.subscription,
  );
  const driver = new Driver(poller, {tickTimeoutMs: 300_000}).start();

  await sleep(BEFORE_OUTAGE_MS);
  const cutAt = Date.now();
  await proxy.cut('refuse');
  await sleep(OUTAGE_MS);
  const restoredAt = Date.now();
  await proxy.restore();
  const notifiedAtRestore = collector.counts().size;

  const allNotified = await collector.waitFor(
    watched.map(w => w.id),
    120_000,
  );
  await driver.stop();
  await collector.settle();
  await collector.stop();

  // Ticks that began while Firestore was away (but not so late that it came back while they claimed the
  // lease), and the one it was taken from under.
  const during = driver.ticks.filter(
    t =>
      t.startedAt >= cutAt && t.startedAt < restoredAt - LEASE_SECONDS * 1000,
  );
  const caught = driver.ticks.filter(
    t => t.startedAt < cutAt && t.startedAt + t.durationMs > cutAt,
  );
  const firstOkAfter = driver.ticks.find(
    t => t.startedAt >= restoredAt && t.status === 200,
  );
  const result = account(watched, collector);
  const states = await stateCounts(stack.firestore, stack.collection);
  printFigures('firestore-down', {
    operations: OPERATIONS,
    outageMs: restoredAt - cutAt,
    ticksDuringOutage: during.length,
    statusesDuringOutage: [...new Set(during.map(t => t.status))],
    failingTickMs: percentiles(
      during.map(t => t.durationMs),
      [50, 100],
    ),
    failingTickBoundMs: NEW_TICK_BOUND_MS,
    caughtTick: caught.map(t => ({status: t.status, ms: t.durationMs})),
    caughtTickBoundMs: CAUGHT_TICK_BOUND_MS,
    firstOkTickAfterRestoreMs: firstOkAfter
      ? firstOkAfter.startedAt + firstOkAfter.durationMs - restoredAt
      : null,
    notifiedAtRestore,
    lost: result.lost.length,
    duplicates: result.duplicates,
    states,
    ...tickSummary(driver.ticks),
    runMs: Date.now() - began,
  });

  expect(during.length).toBeGreaterThanOrEqual(MIN_FAILING_TICKS);
  for (const tick of during) {
    expect(tick.status).toBeGreaterThanOrEqual(500);
    expect(tick.durationMs).toBeLessThanOrEqual(NEW_TICK_BOUND_MS);
  }
  for (const tick of caught) {
    expect(tick.status).not.toBe(0);
    expect(tick.durationMs).toBeLessThanOrEqual(CAUGHT_TICK_BOUND_MS);
  }
  expect(poller.unexpectedExits).toEqual([]);
  expect(allNotified).toBe(true);
  expect(result.lost).toEqual([]);
  expect(result.strangers).toBe(0);
  expect(states).toEqual({succeeded: OPERATIONS});
});
