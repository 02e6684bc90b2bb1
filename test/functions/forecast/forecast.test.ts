import fc from 'fast-check';
import {
  AGE_SHARE,
  CONFIDENT_SIGMA,
  MIN_WAIT_MS,
  PROGRESS_MARGIN_MS,
  STEP_SIGMA_SHARE,
  YOUNG_MS,
  YOUNG_WAIT_MS,
  forecast,
  type ForecastInput,
} from '../../../functions/forecast/forecast';
import type {DurationModel} from '../../../functions/forecast/durations';
import {
  DEFAULT_LRO_SETTINGS,
  lroSettingsFor,
} from '../../../functions/google/presets';
import {
  DEFAULT_POLICY,
  decide,
  type PollResult,
} from '../../../functions/polling/policy';
import type {Operation} from '../../../functions/model';

const START = 1_800_000_000_000;
const noJitter = () => 0;
const CAP = DEFAULT_POLICY.maxDelayMs;

function watch(overrides: Partial<ForecastInput> = {}): ForecastInput {
  return {
    attempts: 1,
    errorStreak: 0,
    deadline: START + 86_400_000,
    style: 'longrunning',
    createdAt: START,
    ...overrides,
  };
}

const running = (metadata: Record<string, unknown> = {}): PollResult => ({
  kind: 'operation',
  operation: {name: 'operations/x', done: false, metadata},
});

/** Firestore-style progress: `done` of 1000 documents, started at START. */
const documents = (done: number) => ({
  '@type':
    'type.googleapis.com/google.firestore.admin.v1.ExportDocumentsMetadata',
  startTime: new Date(START).toISOString(),
  progressDocuments: {completedWork: String(done), estimatedWork: '1000'},
});

const history = (medianMs: number, sigma: number): DurationModel => ({
  count: 20,
  medianMs,
  sigma,
});

describe('rule 1: an explicit pollPolicy wins', () => {
  const pollPolicy = {
    initialDelayMs: 7000,
    multiplier: 1,
    maxDelayMs: 7000,
    jitter: 0,
  };

  it('keeps the policy backoff whatever the progress and history say, and still shows them', () => {
    const now = START + 100_000;
    const registration = watch({
      pollPolicy,
      lastOperation: {metadata: documents(100)},
      lastPolledAt: START + 10_000,
    });
    const result = running(documents(500));
    const out = forecast(registration, result, now, noJitter, {
      durations: history(600_000, 0.1),
    });
    expect(out.transition).toEqual(decide(registration, result, now, noJitter));
    expect(out.transition.nextPollAt).toBe(now + 7000);
    expect(out.progressPercent).toBe(50);
    expect(out.estimatedDoneAt).toBe(START + 200_000);
  });
});

describe('rule 2: progress and a start time', () => {
  it('steady progress: most of the way while under half done, then just after the finish, past the cap', () => {
    const early = watch({
      lastOperation: {metadata: documents(100)},
      lastPolledAt: START + 100_000,
    });
    const out = forecast(
      early,
      running(documents(200)),
      START + 200_000,
      noJitter,
    );
    expect(out.estimatedDoneAt).toBe(START + 1_000_000);
    expect(out.transition.nextPollAt).toBe(START + 200_000 + 0.9 * 800_000);
    expect(out.progressPercent).toBe(20);
    const late = watch({
      lastOperation: {metadata: documents(200)},
      lastPolledAt: START + 200_000,
    });
    const near = forecast(
      late,
      running(documents(600)),
      START + 600_000,
      noJitter,
    );
    expect(near.transition.nextPollAt).toBe(
      START + 1_000_000 + PROGRESS_MARGIN_MS,
    );
  });

  it('progress on a curve: polls halfway to the extrapolated finish, never further than the cap', () => {
    // 10 % in the first 100 s, then 40 % more in 10 s: the recent rate is far from the average.
    const registration = watch({
      lastOperation: {metadata: documents(100)},
      lastPolledAt: START + 100_000,
    });
    const now = START + 110_000;
    const out = forecast(registration, running(documents(500)), now, noJitter);
    expect(out.estimatedDoneAt).toBe(START + 220_000);
    expect(out.transition.nextPollAt).toBe(now + 55_000);
    const late = watch({
      lastOperation: {metadata: documents(500)},
      lastPolledAt: START + 9_000,
    });
    // 90 % at 10 s, after 50 % at 9 s: finish extrapolated at ~11.1 s, not steady: halfway there, at least 1 s.
    const near = forecast(
      late,
      running(documents(900)),
      START + 10_000,
      noJitter,
    );
    expect(near.transition.nextPollAt - (START + 10_000)).toBeCloseTo(
      Math.max(MIN_WAIT_MS, (near.estimatedDoneAt! - START - 10_000) / 2),
    );
  });

  it('past the extrapolated finish and not done: short waits, a share of the time elapsed', () => {
    const registration = watch({
      lastOperation: {metadata: documents(1000)},
      lastPolledAt: START + 100_000,
    });
    const out = forecast(
      registration,
      running(documents(1000)),
      START + 200_000,
      noJitter,
    );
    expect(out.transition.nextPollAt).toBe(START + 200_000 + 10_000);
  });

  it('reads the progress of Spanner, Compute, Service Management and Vertex AI', () => {
    const at = (iso: number) => new Date(iso).toISOString();
    const cases: Operation[] = [
      {metadata: {progress: {progressPercent: 25, startTime: at(START)}}},
      {
        metadata: {
          progress: [
            {progressPercent: 50, startTime: at(START)},
            {progressPercent: 0},
          ],
        },
      },
      {progress: 25, startTime: at(START), status: 'RUNNING'},
      {metadata: {progressPercentage: 25, startTime: at(START)}},
      {
        metadata: {
          progressPercentage: 25,
          genericMetadata: {createTime: at(START)},
        },
      },
    ];
    for (const operation of cases) {
      const out = forecast(
        watch(),
        {kind: 'operation', operation: {done: false, ...operation}},
        START + 100_000,
        noJitter,
      );
      expect(out.progressPercent).toBe(25);
      expect(out.estimatedDoneAt).toBe(START + 400_000);
    }
  });

  it('without a start time in the metadata, counts from the registration', () => {
    const out = forecast(
      watch(),
      running({progressPercent: 50}),
      START + 30_000,
      noJitter,
    );
    expect(out.estimatedDoneAt).toBe(START + 60_000);
  });
});

describe('rule 3: a kind with enough history', () => {
  it('narrow spread: skips the time in which few finished (down to 1 sigma below the median), past the cap', () => {
    const out = forecast(
      watch(),
      running({'@type': 'x'}),
      START + 1000,
      noJitter,
      {
        durations: history(600_000, 0.2),
      },
    );
    const bodyStart = 600_000 * Math.exp(-0.2);
    expect(out.transition.nextPollAt).toBeCloseTo(START + bodyStart);
    expect(out.estimatedDoneAt).toBe(START + 600_000);
  });

  it('then steps of a share of sigma of the time elapsed, past the cap only when the spread is narrow', () => {
    const now = START + 300_000;
    const out = forecast(watch(), running({'@type': 'x'}), now, noJitter, {
      durations: history(300_000, 0.2),
    });
    expect(out.transition.nextPollAt - now).toBeCloseTo(
      300_000 * (Math.exp(STEP_SIGMA_SHARE * 0.2) - 1),
    );
    const long = forecast(
      watch(),
      running({'@type': 'x'}),
      START + 3e6,
      noJitter,
      {
        durations: history(3e6, 0.2),
      },
    );
    expect(long.transition.nextPollAt - START - 3e6).toBeCloseTo(
      3e6 * (Math.exp(STEP_SIGMA_SHARE * 0.2) - 1),
    );
    const wide = forecast(
      watch(),
      running({'@type': 'x'}),
      START + 3e6,
      noJitter,
      {
        durations: history(3e6, CONFIDENT_SIGMA + 0.1),
      },
    );
    expect(wide.transition.nextPollAt).toBe(START + 3e6 + CAP);
  });

  it('a wide spread is uncertain: no wait longer than the cap', () => {
    const out = forecast(
      watch(),
      running({'@type': 'x'}),
      START + 1000,
      noJitter,
      {
        durations: history(3_600_000, CONFIDENT_SIGMA + 0.1),
      },
    );
    expect(out.transition.nextPollAt).toBe(START + 1000 + CAP);
  });

  it('progress, when there is some, goes before history', () => {
    const registration = watch({
      lastOperation: {metadata: documents(100)},
      lastPolledAt: START + 100_000,
    });
    const out = forecast(
      registration,
      running(documents(200)),
      START + 200_000,
      noJitter,
      {
        durations: history(60_000, 0.1),
      },
    );
    expect(out.estimatedDoneAt).toBe(START + 1_000_000);
  });
});

describe('rule 4: the API owners published poll settings, until a kind has history', () => {
  it('Redis CreateInstance: 60 s initial, within the cap', () => {
    const prior = lroSettingsFor('redis.googleapis.com', 'create')!;
    expect(prior.initialPollDelayMs).toBe(60_000);
    expect(prior.maxPollDelayMs).toBe(360_000);
    const first = forecast(
      watch({attempts: 0}),
      running({verb: 'create'}),
      START,
      noJitter,
      {prior},
    );
    expect(first.transition.nextPollAt).toBe(START + 60_000);
    const later = forecast(
      watch({attempts: 6}),
      running({verb: 'create'}),
      START,
      noJitter,
      {prior},
    );
    expect(later.transition.nextPollAt).toBe(START + CAP);
  });

  it('other methods of a known service: the defaults, 5 s x1.5 up to 45 s', () => {
    expect(lroSettingsFor('redis.googleapis.com', 'delete')).toEqual(
      DEFAULT_LRO_SETTINGS,
    );
    expect(lroSettingsFor('firestore.googleapis.com', undefined)).toEqual(
      DEFAULT_LRO_SETTINGS,
    );
    expect(DEFAULT_LRO_SETTINGS).toEqual({
      initialPollDelayMs: 5000,
      pollDelayMultiplier: 1.5,
      maxPollDelayMs: 45_000,
      totalPollTimeoutMs: 300_000,
    });
    const prior = DEFAULT_LRO_SETTINGS;
    const waits = [0, 1, 2, 10].map(
      attempts =>
        forecast(
          watch({attempts}),
          running({verb: 'update'}),
          START,
          noJitter,
          {prior},
        ).transition.nextPollAt - START,
    );
    expect(waits).toEqual([5000, 7500, 11_250, 45_000]);
  });

  it('a service without a preset has no prior', () => {
    expect(lroSettingsFor('example.googleapis.com', 'create')).toBeUndefined();
  });
});

describe('rule 5 and the guarantees that stay', () => {
  it('an opaque operation: at most 5 s apart while young, then half its age, within the cap', () => {
    const waitAt = (age: number, r = 0) =>
      forecast(watch(), running(), START + age, () => r).transition.nextPollAt -
      START -
      age;
    expect(YOUNG_WAIT_MS).toBe(5000);
    expect(AGE_SHARE).toBe(0.5);
    expect(waitAt(0)).toBe(MIN_WAIT_MS);
    expect(waitAt(4000)).toBe(2000);
    expect(waitAt(30_000)).toBe(YOUNG_WAIT_MS);
    expect(waitAt(YOUNG_MS)).toBe(YOUNG_MS * AGE_SHARE);
    expect(waitAt(600_000)).toBe(CAP);
    // Jitter only shortens a wait, by at most a tenth.
    expect(waitAt(30_000, 0.999)).toBeCloseTo(YOUNG_WAIT_MS * 0.9, -1);
  });

  it('an opaque operation is noticed within half its duration or a second, and never waits past the cap', () => {
    fc.assert(
      fc.property(
        // Short of the deadline, which cuts any wait (a later test).
        fc.integer({min: 0, max: 86_400_000 - CAP}),
        fc.integer({min: 0, max: 40}),
        fc.double({min: 0, max: 1, noNaN: true}),
        (age, attempts, r) => {
          const registration = watch({attempts});
          const now = START + age;
          const out = forecast(registration, running(), now, () => r);
          const wait = out.transition.nextPollAt - now;
          expect(wait).toBeGreaterThanOrEqual(MIN_WAIT_MS);
          expect(wait).toBeLessThanOrEqual(
            Math.max(MIN_WAIT_MS, age * AGE_SHARE),
          );
          expect(wait).toBeLessThanOrEqual(CAP);
          if (age < YOUNG_MS) expect(wait).toBeLessThanOrEqual(YOUNG_WAIT_MS);
          // Everything but the next poll's time is the policy's decision.
          const decided = decide(registration, running(), now, () => r);
          expect({...out.transition, nextPollAt: 0}).toEqual({
            ...decided,
            nextPollAt: 0,
          });
          expect(out.estimatedDoneAt).toBeUndefined();
        },
      ),
    );
  });

  it('an uncertain forecast never waits longer than the cap', () => {
    fc.assert(
      fc.property(
        fc.double({min: CONFIDENT_SIGMA + 0.01, max: 3, noNaN: true}),
        fc.integer({min: 1000, max: 86_400_000}),
        fc.integer({min: 0, max: 86_400_000}),
        fc.integer({min: 0, max: 30}),
        (sigma, medianMs, elapsed, attempts) => {
          const now = START + elapsed;
          const prior = lroSettingsFor('redis.googleapis.com', 'create');
          const uncertain = [
            {durations: history(medianMs, sigma)},
            {prior},
            {},
          ];
          for (const knowledge of uncertain) {
            const out = forecast(
              watch({attempts}),
              running({'@type': 'x'}),
              now,
              Math.random,
              knowledge,
            );
            expect(out.transition.nextPollAt - now).toBeLessThanOrEqual(CAP);
          }
        },
      ),
    );
  });

  it('nothing waits past the deadline, and a poll at the deadline expires as before', () => {
    const registration = watch({deadline: START + 300_000});
    const steady = watch({
      deadline: START + 300_000,
      lastOperation: {metadata: documents(100)},
      lastPolledAt: START + 100_000,
    });
    expect(
      forecast(steady, running(documents(200)), START + 200_000, noJitter)
        .transition.nextPollAt,
    ).toBe(START + 300_000);
    const expired = forecast(
      registration,
      running(documents(200)),
      START + 300_000,
      noJitter,
    );
    expect(expired.transition.outcome).toBe('expired');
  });

  it('Retry-After still holds, and errors stay the policy decision', () => {
    const throttled: PollResult = {
      kind: 'transient',
      error: {kind: 'http', status: 429, message: 'HTTP 429'},
      retryAfterMs: 120_000,
    };
    const registration = watch({
      lastOperation: {metadata: documents(999)},
      lastPolledAt: START,
    });
    const out = forecast(registration, throttled, START + 1000, noJitter, {
      durations: history(2000, 0.1),
    });
    expect(out.transition).toEqual(
      decide(registration, throttled, START + 1000, noJitter),
    );
    expect(out.transition.nextPollAt).toBeGreaterThanOrEqual(START + 121_000);
  });

  it('a finished operation ends the watch as decide() says', () => {
    const done: PollResult = {
      kind: 'operation',
      operation: {done: true, response: {}},
    };
    const out = forecast(watch(), done, START + 1000, noJitter, {
      durations: history(1e6, 0.1),
    });
    expect(out.transition.outcome).toBe('succeeded');
  });
});
