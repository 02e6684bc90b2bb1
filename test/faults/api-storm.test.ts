/**
 * An API storm: for two minutes (30 s in the quick profile, see profile.ts) 30 % of all polls are answered 429 or 503 with Retry-After (the fake API's
 * seeded chaos), while 500 operations (200 quick) finish at random times.
 *
 * Nothing may be lost; no operation may be polled again before the Retry-After its previous answer gave; and
 * throttling must not multiply the polls: their total stays under a bound computed from the policy.
 */
import type {PollPolicy} from '../../functions/core/model';
import {DEFAULT_POLICY} from '../../functions/core/policy';
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

const OPERATIONS = byProfile({quick: 200, full: 500});
const DURATION_MS = byProfile({quick: 25_000, full: 100_000});
const STORM_MS = byProfile({quick: 30_000, full: 120_000});
const THROTTLE_SHARE = 0.3;
const RETRY_AFTER_SECONDS = 3;

/**
 * The most polls an operation finishing `doneAfterMs` after its registration can get before it is done. Every
 * wait, throttled or not, is at least the policy's backoff less its full jitter (a Retry-After only lengthens
 * it), so the polls are at most those of that fastest schedule that fit before the operation finishes.
 */
function maxPollsBefore(doneAfterMs: number, policy: PollPolicy): number {
  let at = 0;
  let polls = 1;
  for (;;) {
    const wait =
      (1 - policy.jitter) *
      Math.min(
        policy.maxDelayMs,
        policy.initialDelayMs * policy.multiplier ** (polls - 1),
      );
    if (at + wait >= doneAfterMs) return polls;
    at += wait;
    polls++;
  }
}

/**
 * After an operation is done every poll either ends its watch or is throttled, with probability p each time:
 * the throttled ones are geometric, mean p/(1-p) and variance p/(1-p)^2 per operation. Their sum over n
 * operations stays below its mean plus five standard deviations.
 */
function maxThrottledAfterDone(n: number, p: number): number {
  const mean = (n * p) / (1 - p);
  const sd = Math.sqrt((n * p) / (1 - p) ** 2);
  return Math.ceil(mean + 5 * sd);
}

let stack: TestStack;
let poller: SpawnedFunction;

beforeAll(async () => {
  stack = await startStack();
  poller = await startPollProcess(
    stackEnv(stack, {
      POLL_BUDGET_SECONDS: '20',
      POLL_LEASE_SECONDS: '3',
      POLL_REQUEST_TIMEOUT_SECONDS: '2',
    }),
  );
});

afterAll(async () => {
  await poller?.stop();
  await stack?.stop();
});

it(`30 % of polls throttled for ${STORM_MS / 1000} s: 0 lost, Retry-After honoured, polls bounded`, async () => {
  const random = seededRandom(429);
  const began = Date.now();
  const watched = await registerMany(stack, OPERATIONS, () => ({
    kind: 'finish',
    afterMs: Math.floor(random() * DURATION_MS),
  }));
  const collector = await new Collector(stack.subscription.name).start(
    stack.subscription,
  );
  stack.operationsApi.setChaos({
    probability: THROTTLE_SHARE,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
  const stormBegan = Date.now();
  const driver = new Driver(poller, {tickTimeoutMs: 120_000}).start();
  await sleep(STORM_MS);
  stack.operationsApi.setChaos(undefined);
  const allNotified = await collector.waitFor(
    watched.map(w => w.id),
    60_000,
  );
  await driver.stop();
  await collector.settle();
  await collector.stop();

  // Retry-After: the request after a throttled answer for the same operation comes no sooner than it asked.
  let throttled = 0;
  const marginMs: number[] = [];
  const early: string[] = [];
  for (const {name} of watched) {
    const requests = stack.operationsApi.requestsFor(name);
    requests.forEach((request, i) => {
      if (request.retryAfterSeconds === undefined) return;
      throttled++;
      const next = requests[i + 1];
      if (!next) return;
      const gap = next.at - request.at - request.retryAfterSeconds * 1000;
      marginMs.push(gap);
      if (gap < 0) early.push(`${name}: ${gap} ms early`);
    });
  }

  const polls = stack.operationsApi.requests.length;
  // From registration to done is at most from definition to done.
  const pollsBeforeDone = watched.reduce(
    (sum, w) => sum + maxPollsBefore(w.doneAt - w.definedAt, DEFAULT_POLICY),
    0,
  );
  const bound =
    pollsBeforeDone +
    OPERATIONS +
    maxThrottledAfterDone(OPERATIONS, THROTTLE_SHARE);
  const result = account(watched, collector);
  const first = new Map<string, number>();
  for (const {registrationId, at} of collector.received)
    if (!first.has(registrationId)) first.set(registrationId, at);
  printFigures('api-storm', {
    operations: OPERATIONS,
    stormMs: STORM_MS,
    throttleShare: THROTTLE_SHARE,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
    polls,
    throttled,
    pollBound: bound,
    retryAfterViolations: early.length,
    retryAfterMarginMs: percentiles(marginMs, [0, 50, 99]),
    notificationLagMs: percentiles(
      watched.map(w => first.get(w.id)! - w.doneAt),
    ),
    lost: result.lost.length,
    duplicates: result.duplicates,
    ...tickSummary(driver.ticks),
    stormBeganAfterMs: stormBegan - began,
    runMs: Date.now() - began,
  });

  expect(allNotified).toBe(true);
  expect(result.lost).toEqual([]);
  expect(await stateCounts(stack.firestore, stack.collection)).toEqual({
    succeeded: OPERATIONS,
  });
  expect(throttled).toBeGreaterThan(polls * THROTTLE_SHARE * 0.8);
  expect(early).toEqual([]);
  expect(polls).toBeLessThanOrEqual(bound);
  expect(poller.unexpectedExits).toEqual([]);
});
