/**
 * `forecast()` from what is known of an operation's kind: the durations its finished operations taught (progress,
 * when there is some, still goes first), and until a kind has those, the poll settings its API's owners published.
 */
import {
  CONFIDENT_SIGMA,
  STEP_SIGMA_SHARE,
  forecast,
} from '../../../functions/forecast/forecast';
import {
  DEFAULT_LRO_SETTINGS,
  lroSettingsFor,
} from '../../../functions/core/presets';
import {
  CAP,
  START,
  documents,
  history,
  noJitter,
  running,
  watch,
} from './forecast-support';

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
