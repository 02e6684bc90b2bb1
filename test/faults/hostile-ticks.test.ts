/**
 * Real ticks among hostile answers and corrupt documents: the `poll` function in a process of its own, its heap
 * sized as Node.js sizes it in the deployed function (half of POLL_MEMORY_MB), ticked back to back by a Scheduler
 * stand-in; its operations API a hostile stand-in (hostile-run.ts) answering the arbitraries of
 * hostile-operations.ts, answers of tiny values just under the cap (as many at once as it polls), bodies that never
 * end and bodies that trickle; stored documents broken as hostile-documents.ts breaks them; and well-behaved
 * registrations among them, first alone for comparison.
 *
 * Invariants: every tick answers 200 and the process stays up; every well-behaved registration is notified, on
 * time; every hostile one ends with a notification by its deadline, `poll_error` saying why where its answer is
 * no Operation, succeeded, failed or expired as its answer says otherwise; every corrupt document is reported on
 * DEAD_LETTER_TOPIC with its id and the parse error and ends with no notification; the process's peak memory stays
 * within POLL_MEMORY_MB. A notification can repeat when a write fails after Pub/Sub took it (the poller is
 * at-least-once): repeats are counted, and a repeat must say the same.
 */
import {PubSub} from '@google-cloud/pubsub';
import fc from 'fast-check';
import {AGE_SHARE, UNSURE_BASE_MS} from '../../functions/forecast/constants';
import {parseNotification} from '../../functions/notify/notification';
import {leaseTimings} from '../../functions/polling/lease-timings';
import {
  TEST_PROJECT,
  createTopicAndSubscription,
  uniqueName,
} from '../support/emulator-env';
import {
  functionEnv,
  startPollProcess,
  type SpawnedFunction,
} from '../support/poll-process';
import {stackAddresses, startStack, type TestStack} from '../support/stack';
import {
  Collector,
  Driver,
  inParallel,
  percentiles,
  printFigures,
  seededRandom,
  sleep,
  tickSummary,
  type TickRecord,
} from './harness';
import {corruption} from './hostile-documents';
import {hostileAnswer, hostileProgress, toJsonText} from './hostile-operations';
import {BUDGET, POLL_ENV} from './hostile-pipeline';
import {HostileRun, peakMemory, type Category, type Watch} from './hostile-run';
import {byProfile} from './profile';

const SEED = 20260622;
const figures: Record<string, unknown> = {};
afterAll(() => printFigures('hostile-ticks', figures));

describe('real ticks among hostile answers and corrupt documents', () => {
  const TIMEOUT_MS = byProfile({quick: 15_000, full: 30_000});
  const COUNTS = byProfile({
    quick: {
      baseline: 6,
      good: 16,
      shape: 24,
      progress: 6,
      heavy: 32,
      endless: 4,
      trickle: 3,
      corrupt: 10,
    },
    full: {
      baseline: 30,
      good: 60,
      shape: 200,
      progress: 30,
      heavy: 32,
      endless: 8,
      trickle: 8,
      corrupt: 60,
    },
  });
  const REQUEST_MS = Number(POLL_ENV.POLL_REQUEST_TIMEOUT_SECONDS) * 1000;
  const {publishTimeoutMs} = leaseTimings(
    Number(POLL_ENV.POLL_LEASE_SECONDS) * 1000,
  );
  /** A poll's last steps, once its operation has answered: its publish, and the tick's next look (within 1 s). */
  const SETTLE_MS = publishTimeoutMs + 1000;
  /** A good operation is done at most this long after it is registered. */
  const GOOD_LONGEST_MS = 3000;
  /** On time, for a good operation: the longest unsure wait at its age (forecast.ts), then one poll. */
  const ON_TIME_MS =
    UNSURE_BASE_MS + AGE_SHARE * GOOD_LONGEST_MS + REQUEST_MS + SETTLE_MS;
  /** By its deadline: a poll made at the deadline. */
  const DEADLINE_SLACK_MS = REQUEST_MS + SETTLE_MS;

  let stack: TestStack;
  let run: HostileRun;
  let poller: SpawnedFunction;
  let pubsub: PubSub;
  let notifications: Collector;
  let deadLetters: Collector;
  let baselineTicks: TickRecord[] = [];
  let ticks: TickRecord[] = [];
  let baseline: Watch[] = [];
  let memoryPeak = 0;

  const random = seededRandom(SEED);
  /** `count` good operations registered over `spreadMs`, each done 1 s to GOOD_LONGEST_MS after it is registered. */
  const goodOnes = (count: number, spreadMs: number) => {
    const began = Date.now();
    return inParallel(new Array(count).fill(0), 4, async (_, i) => {
      await sleep(began + (i * spreadMs) / count - Date.now());
      return run.finishing(
        'good',
        1000 + Math.floor(random() * (GOOD_LONGEST_MS - 1000)),
      );
    });
  };
  /** One value of `arbitrary`, the `index`th of the run: the same from run to run. */
  const nth = <T>(arbitrary: fc.Arbitrary<T>, index: number, count = 1) =>
    fc.sample(arbitrary, {seed: SEED + index, numRuns: count});

  /**
   * Before the first tick: the corrupt documents (so that tick's sweep meets the hidden ones) and the heavy answers
   * (so that tick polls them all at once).
   */
  async function registerBeforeTicks(): Promise<void> {
    for (const broken of nth(corruption, 0, COUNTS.corrupt))
      await run.corrupt(stack.firestore, broken, TIMEOUT_MS);
    await run.heavy(COUNTS.heavy, TIMEOUT_MS);
  }

  /** The other hostile registrations, made while the ticks run, as callers would make them. */
  async function registerHostile(): Promise<void> {
    const registrations = [
      ...Array.from(
        {length: COUNTS.shape},
        (_, i) => () =>
          run.shape(
            name => toJsonText(nth(hostileAnswer(name), i)[0]),
            TIMEOUT_MS,
          ),
      ),
      ...Array.from(
        {length: COUNTS.progress},
        (_, i) => () =>
          run.finishing('progress', 2000 + 1000 * (i % 8), TIMEOUT_MS, name => {
            const answers = nth(hostileProgress(name), i, 5).map(toJsonText);
            return asked => answers[asked % answers.length];
          }),
      ),
      ...Array.from(
        {length: COUNTS.endless},
        () => () => run.unending('endless', TIMEOUT_MS),
      ),
      ...Array.from(
        {length: COUNTS.trickle},
        () => () => run.unending('trickle', TIMEOUT_MS),
      ),
    ];
    await inParallel(registrations, 8, register => register());
  }

  /** Whether `watch` has ended: a notification on its topic, or its report on the dead-letter topic. */
  const ended = (watch: Watch) =>
    notifications.counts().has(watch.id) ||
    deadLetters.received.some(letter => letter.data?.includes(watch.id));

  beforeAll(async () => {
    stack = await startStack();
    pubsub = new PubSub({projectId: TEST_PROJECT});
    const deadLetter = uniqueName('dead-letter');
    const {subscription} = await createTopicAndSubscription(
      pubsub,
      deadLetter,
      `${deadLetter}-sub`,
    );
    run = await HostileRun.start(stack);
    poller = await startPollProcess(
      functionEnv(
        stackAddresses(stack, {'firestore.googleapis.com': run.server.baseUrl}),
        {
          ...POLL_ENV,
          DEAD_LETTER_TOPIC: deadLetter,
          // The heap Node.js gives each thread in the function's container (memory-budget.ts): half its memory.
          NODE_OPTIONS: `--max-old-space-size=${Number(POLL_ENV.POLL_MEMORY_MB) / 2}`,
        },
      ),
    );
    notifications = await new Collector(stack.subscription.name, {
      keepData: true,
    }).start(stack.subscription);
    deadLetters = await new Collector(subscription.name, {
      keepData: true,
    }).start(subscription);

    // Alone first: how late good operations are notified with nothing hostile about.
    const driver = new Driver(poller, {tickTimeoutMs: 60_000}).start();
    baseline = await goodOnes(COUNTS.baseline, 2000);
    await notifications.waitFor(
      baseline.map(watch => watch.id),
      60_000,
    );
    await driver.pause();
    baselineTicks = driver.ticks.splice(0);
    // A new instance: its first tick sweeps for hidden documents, and its memory peak is the hostile run's own.
    await poller.restart();
    await registerBeforeTicks();
    driver.resume();
    await Promise.all([
      registerHostile(),
      goodOnes(COUNTS.good, TIMEOUT_MS / 2),
    ]);
    const lastDeadline = Math.max(
      ...run.watches.filter(w => w.category !== 'good').map(w => w.deadline),
    );
    while (
      run.watches.some(watch => !ended(watch)) &&
      Date.now() < lastDeadline + 2 * DEADLINE_SLACK_MS
    )
      await sleep(200);
    memoryPeak = peakMemory(poller.pid!);
    await driver.stop();
    ticks = driver.ticks;
    await notifications.settle(1000);
  }, 600_000);

  afterAll(async () => {
    await poller?.stop();
    await run?.stop();
    await notifications?.stop();
    await deadLetters?.stop();
    await pubsub?.close();
    await stack?.stop();
  });

  /** The notifications of `watch`, read. */
  const notified = (watch: Watch) =>
    notifications.received
      .filter(message => message.registrationId === watch.id)
      .map(message => ({
        ...message,
        payload: parseNotification(message.data!),
      }));
  /** How late the good operations of `watches` were notified, past their end. */
  const lateness = (watches: Watch[]) =>
    watches.map(watch => notified(watch)[0]?.publishedAt - watch.doneAt!);

  it('every tick answers 200, and the process stays up', () => {
    figures.ticks = {
      alone: tickSummary(baselineTicks),
      amongHostile: tickSummary(ticks),
    };
    expect(ticks.length).toBeGreaterThan(0);
    expect(
      [...baselineTicks, ...ticks].filter(tick => tick.status !== 200),
    ).toEqual([]);
    expect(poller.unexpectedExits).toEqual([]);
  });

  it('every good registration among them is notified, succeeded, on time', () => {
    const good = run.of('good');
    const late = lateness(good);
    figures.goodLateMs = {
      alone: percentiles(lateness(baseline)),
      amongHostile: percentiles(late),
      onTimeMs: ON_TIME_MS,
    };
    for (const watch of good) {
      const outcomes = notified(watch).map(n => n.outcome);
      expect({name: watch.name, outcomes}).toEqual({
        name: watch.name,
        outcomes: expect.arrayContaining(['succeeded']),
      });
      expect(new Set(outcomes)).toEqual(new Set(['succeeded']));
    }
    expect(late.filter(ms => !(ms <= ON_TIME_MS))).toEqual([]);
  });

  it('every hostile answer ends its watch with a notification by its deadline, saying why', () => {
    const categories = ['shape', 'progress', 'heavy', 'endless', 'trickle'];
    const byCategory: Record<string, unknown> = {};
    for (const category of categories) {
      const endings = run.of(category as Category).map(watch => ({
        watch,
        got: notified(watch).sort((a, b) => a.publishedAt - b.publishedAt),
      }));
      byCategory[category] = {
        count: endings.length,
        outcomes: countBy(endings.map(({got}) => got[0]?.outcome ?? 'none')),
        repeats: endings.reduce(
          (sum, {got}) => sum + Math.max(0, got.length - 1),
          0,
        ),
        endedAfterMs: percentiles(
          endings.map(
            ({watch, got}) => got[0]?.publishedAt - watch.registeredAt,
          ),
          [50, 100],
        ),
        latestPastDeadlineMs: Math.max(
          ...endings.map(
            ({watch, got}) => got[0]?.publishedAt - watch.deadline,
          ),
        ),
      };
      for (const {watch, got} of endings) {
        const expected = watch.expected ?? {outcome: 'succeeded'};
        expect({name: watch.name, outcomes: got.map(n => n.outcome)}).toEqual({
          name: watch.name,
          outcomes: [
            expected.outcome,
            ...got.slice(1).map(() => expected.outcome),
          ],
        });
        expect(got[0].publishedAt).toBeLessThanOrEqual(
          watch.deadline + DEADLINE_SLACK_MS,
        );
        for (const {payload} of got) {
          if (expected.reason !== undefined)
            expect(payload.pollError?.message).toBe(expected.reason);
        }
      }
    }
    figures.hostile = byCategory;
  });

  it('every corrupt document ends loudly: its id and the parse error on the dead-letter topic, no notification', async () => {
    const corrupt = run.of('corrupt');
    const reported = corrupt.filter(
      watch => watch.corruptProblem !== undefined,
    );
    figures.corrupt = {
      count: corrupt.length,
      reported: reported.length,
      readable: corrupt.length - reported.length,
      corruptions: corrupt.map(watch => watch.corruption),
    };
    for (const watch of reported) {
      const letters = deadLetters.received
        .map(letter => JSON.parse(letter.data!) as Record<string, unknown>)
        .filter(letter => letter.registrationId === watch.id);
      expect({corruption: watch.corruption, letters}).toEqual({
        corruption: watch.corruption,
        letters: expect.arrayContaining([
          expect.objectContaining({problem: expect.any(String)}),
        ]),
      });
      expect(notified(watch)).toEqual([]);
      const stored = await stack.firestore
        .collection(stack.collection)
        .doc(watch.id)
        .get();
      expect({
        corruption: watch.corruption,
        state: stored.get('state'),
        error: stored.get('lastError')?.kind,
      }).toEqual({
        corruption: watch.corruption,
        state: 'poll_error',
        error: 'corrupt',
      });
    }
    for (const watch of corrupt.filter(w => w.corruptProblem === undefined))
      expect(notified(watch).length).toBeGreaterThanOrEqual(1);
  });

  it(`peak memory stays within POLL_MEMORY_MB (${POLL_ENV.POLL_MEMORY_MB} MB)`, () => {
    const budget = Number(POLL_ENV.POLL_MEMORY_MB) * 1024 * 1024;
    figures.memory = {
      peakMb: Math.round(memoryPeak / 1024 / 1024),
      budgetMb: Number(POLL_ENV.POLL_MEMORY_MB),
      maxAnswerBytes: BUDGET.maxAnswerBytes,
      heavyAtOnce: COUNTS.heavy,
    };
    expect(memoryPeak).toBeGreaterThan(0);
    expect(memoryPeak).toBeLessThanOrEqual(budget);
  });
});

/** How many times each value occurs. */
function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
