/**
 * `forecast()` from what is known of an operation's kind: the durations its finished operations taught (progress,
 * when there is some, still goes first), and until a kind has those, the poll settings its API's owners published.
 */
import {forecast} from '../../../functions/forecast/forecast';
import {
  AGE_SHARE,
  DELAY_PER_POLL_MS,
  SMALL_HISTORY_WIDENING,
  TAIL_Z,
  UNSURE_BASE_MS,
} from '../../../functions/forecast/constants';
import {
  durationAt,
  hazardAt,
  normalTail,
  type DurationModel,
} from '../../../functions/forecast/durations';
import {
  DEFAULT_LRO_SETTINGS,
  lroSettingsFor,
} from '../../../functions/core/presets';
import fc from 'fast-check';
import {
  CAP,
  START,
  documents,
  history,
  noJitter,
  running,
  watch,
} from './forecast-support';

/** The model the forecast reads a history of 20 as: its spread widened for the small sample. */
const widened = (model: DurationModel): DurationModel => ({
  ...model,
  sigma: model.sigma * (1 + SMALL_HISTORY_WIDENING / model.count),
});

const waitAt = (model: DurationModel, elapsed: number) =>
  forecast(watch(), running({'@type': 'x'}), START + elapsed, noJitter, {
    durations: model,
  }).transition.nextPollAt -
  START -
  elapsed;

describe('the normal tail and the hazard of a learned kind', () => {
  it('normalTail matches the standard normal at known points', () => {
    expect(normalTail(0)).toBeCloseTo(0.5, 6);
    expect(normalTail(1.96)).toBeCloseTo(0.025, 4);
    expect(normalTail(-2.58)).toBeCloseTo(0.99506, 4);
    expect(normalTail(6)).toBeLessThan(1e-8);
  });

  it('the hazard is zero at the start, peaks in the body, and stays finite deep in the tail', () => {
    const model = history(600_000, 0.3);
    expect(hazardAt(model, 0)).toBe(0);
    const early = hazardAt(model, 200_000);
    const body = hazardAt(model, 600_000);
    expect(early).toBeLessThan(body / 100);
    const tail = hazardAt(model, 600_000 * Math.exp(0.3 * 40));
    expect(Number.isFinite(tail)).toBe(true);
    expect(tail).toBeGreaterThan(0);
  });
});

describe('rule 3: a kind with enough history', () => {
  it('skips the time before almost none finished (TAIL_Z widened sigmas below the median), past the cap', () => {
    const model = history(600_000, 0.2);
    const out = forecast(
      watch(),
      running({'@type': 'x'}),
      START + 1000,
      noJitter,
      {
        durations: model,
      },
    );
    const tailEnd = durationAt(widened(model), -TAIL_Z);
    expect(tailEnd).toBeGreaterThan(CAP);
    expect(out.transition.nextPollAt).toBeCloseTo(START + tailEnd);
    expect(out.estimatedDoneAt).toBe(START + 600_000);
  });

  it('then waits as long as the hazard makes a poll worth it: sqrt(2 x DELAY_PER_POLL_MS / hazard)', () => {
    const model = history(3_000_000, 0.1);
    const elapsed = 3_000_000;
    const expected = Math.sqrt(
      (2 * DELAY_PER_POLL_MS) / hazardAt(widened(model), elapsed),
    );
    expect(expected).toBeLessThan(CAP);
    expect(waitAt(model, elapsed)).toBeCloseTo(expected);
    // Where finishing is likelier (the body of a narrower kind), polls come closer together.
    expect(waitAt(history(3_000_000, 0.05), elapsed)).toBeLessThan(expected);
  });

  it('after the skip, no wait is longer than the cap, nor than a share of the age', () => {
    fc.assert(
      fc.property(
        fc.double({min: 0.05, max: 3, noNaN: true}),
        fc.integer({min: 1000, max: 86_400_000}),
        fc.double({min: 0, max: 40, noNaN: true}),
        (sigma, medianMs, spreads) => {
          const model = history(medianMs, sigma);
          const tailEnd = durationAt(widened(model), -TAIL_Z);
          const elapsed = Math.round(
            Math.min(
              86_000_000,
              tailEnd * Math.exp(spreads * widened(model).sigma),
            ),
          );
          if (elapsed < Math.ceil(tailEnd)) return;
          // Times are epoch milliseconds: a wait read back from one is exact to about 1e-3 ms.
          const wait = waitAt(model, elapsed);
          expect(wait).toBeLessThanOrEqual(CAP + 0.01);
          expect(wait).toBeLessThanOrEqual(
            UNSURE_BASE_MS + elapsed * AGE_SHARE + 0.01,
          );
        },
      ),
    );
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
