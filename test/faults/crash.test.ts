/**
 * Crashes: 2,000 operations (300 in the quick profile, see profile.ts), registered over the first minute (20 s)
 * as callers would and each finishing 0-60 s (0-20 s) later, while the poll process is SIGKILLed at random
 * moments, at least 20 (4) times, and restarted; a Scheduler stand-in ticks it back to back throughout.
 *
 * A killed tick loses whatever it held in memory (polls under way, batched writes, its lease). The lease runs
 * out by itself and the next tick takes over. Every operation must be notified (0 lost). POLL_LEASE_SECONDS=4
 * gives the publish a 1 s timeout (a quarter of the lease): with 2 s, publishes Pub/Sub accepted after the
 * poller had given up on them were published again, 8 repeats without a kill in 300 operations.
 *
 * Repeats come from a kill between a publish and its state write, so each kill can repeat at most the
 * operations in flight at that moment: finished but not yet recorded as ended, and no more than
 * POLL_CONCURRENCY of them, since a poll keeps its slot until its write is done. The bound on repeats is that
 * sum over the kills; a fixed share of the operations would fail on noise (how many kills land in a busy moment)
 * and could miss a real regression in a quiet run. Both figures are reported.
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

const OPERATIONS = byProfile({quick: 300, full: 2000});
const ARRIVALS_MS = byProfile({quick: 20_000, full: 60_000});
const DURATION_MS = byProfile({quick: 20_000, full: 60_000});
const MIN_KILLS = byProfile({quick: 4, full: 20});
const CONCURRENCY = 32;
/** Uptime between a restart and the next kill: uniform in this range. */
const UPTIME_MS: [number, number] = [2000, 8000];

let stack: TestStack;
let poller: SpawnedFunction;

beforeAll(async () => {
  stack = await startStack();
  poller = await startPollProcess(
    stackEnv(stack, {
      POLL_BUDGET_SECONDS: '20',
      POLL_LEASE_SECONDS: '4',
      POLL_REQUEST_TIMEOUT_SECONDS: '2',
      POLL_CONCURRENCY: String(CONCURRENCY),
    }),
  );
});

afterAll(async () => {
  await poller?.stop();
  await stack?.stop();
});

it(`${OPERATIONS.toLocaleString('en')} operations, >= ${MIN_KILLS} SIGKILLs: 0 lost, duplicates within what the kills caught in flight`, async () => {
  // Separate sequences: registrations and kills interleave at their own pace.
  const durations = seededRandom(20240601);
  const uptimes = seededRandom(42);
  const began = Date.now();
  const collector = await new Collector(stack.subscription.name).start(
    stack.subscription,
  );
  const driver = new Driver(poller, {tickTimeoutMs: 120_000}).start();
  const registering = registerMany(
    stack,
    OPERATIONS,
    () => ({kind: 'finish', afterMs: Math.floor(durations() * DURATION_MS)}),
    {spreadMs: ARRIVALS_MS},
  );
  let registered = false;
  void registering.then(() => (registered = true));
  const kills: {at: number; uptimeMs: number}[] = [];
  // Kills go on while operations arrive and finish, and at least MIN_KILLS times.
  while (
    kills.length < MIN_KILLS ||
    !registered ||
    Date.now() < began + ARRIVALS_MS + DURATION_MS
  ) {
    const uptimeMs =
      UPTIME_MS[0] + Math.floor(uptimes() * (UPTIME_MS[1] - UPTIME_MS[0]));
    await sleep(uptimeMs);
    await poller.kill('SIGKILL');
    kills.push({at: Date.now(), uptimeMs});
    await poller.restart();
  }
  const watched = await registering;
  const registeredMs = Math.max(...watched.map(w => w.definedAt)) - began;
  const allNotified = await collector.waitFor(
    watched.map(w => w.id),
    180_000,
  );
  await driver.stop();
  await collector.settle();
  await collector.stop();

  const result = account(watched, collector);
  const first = new Map<string, number>();
  for (const {registrationId, at} of collector.received)
    if (!first.has(registrationId)) first.set(registrationId, at);
  const lagMs = watched
    .filter(w => first.has(w.id))
    .map(w => first.get(w.id)! - w.doneAt);
  const states = await stateCounts(stack.firestore, stack.collection);
  const docs = await stack.firestore.collection(stack.collection).get();
  const written = new Map(docs.docs.map(d => [d.id, d.updateTime.toMillis()]));
  // Pub/Sub's acceptance of a registration's last message to the write that ended its watch: the window in
  // which a crash repeats the message.
  const last = new Map<string, number>();
  for (const r of collector.received) last.set(r.registrationId, r.publishedAt);
  const windowMs = [...last].map(([id, at]) => written.get(id)! - at);
  // Each repeat against the kill that caused it: the first kill after its first publish. Pub/Sub stamps a
  // message when it processes it, which can be just after its sender died, hence the slack. A repeat with no
  // kill between its two publishes would be a live process's doing.
  const SLACK_MS = 1000;
  // In flight at a kill: finished, but its ending not yet written (the write that ended the watch came later).
  const inFlightAtKill = kills.map(
    kill =>
      watched.filter(w => w.doneAt <= kill.at && written.get(w.id)! > kill.at)
        .length,
  );
  const duplicateBound = inFlightAtKill.reduce(
    (sum, n) => sum + Math.min(n, CONCURRENCY),
    0,
  );
  const perKill = new Array<number>(kills.length).fill(0);
  const firstPublishBeforeKillMs: number[] = [];
  let withoutKill = 0;
  for (const [id, n] of collector.counts()) {
    if (n < 2) continue;
    const times = collector.received
      .filter(r => r.registrationId === id)
      .map(r => r.publishedAt)
      .sort((a, b) => a - b);
    const kill = kills.findIndex(k => k.at >= times[0] - SLACK_MS);
    if (kill < 0 || kills[kill].at > times[1]) withoutKill += n - 1;
    else {
      perKill[kill] += n - 1;
      firstPublishBeforeKillMs.push(kills[kill].at - times[0]);
    }
  }
  printFigures('crash', {
    operations: OPERATIONS,
    kills: kills.length,
    lost: result.lost.length,
    duplicates: result.duplicates,
    duplicateBound,
    duplicateRate: Number((result.duplicates / OPERATIONS).toFixed(4)),
    inFlightAtKill,
    messages: result.messages,
    polls: stack.operationsApi.requests.length,
    notificationLagMs: percentiles(lagMs),
    publishToWriteMs: percentiles(windowMs),
    duplicatesPerKill: perKill,
    duplicatesWithoutKill: withoutKill,
    firstPublishBeforeKillMs: percentiles(firstPublishBeforeKillMs),
    states,
    ...tickSummary(driver.ticks),
    registerMs: registeredMs,
    runMs: Date.now() - began,
  });

  expect(allNotified).toBe(true);
  expect(result.lost).toEqual([]);
  expect(result.strangers).toBe(0);
  expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS);
  expect(result.duplicates).toBeLessThanOrEqual(duplicateBound);
  expect(states).toEqual({succeeded: OPERATIONS});
  expect(poller.unexpectedExits).toEqual([]);
});
