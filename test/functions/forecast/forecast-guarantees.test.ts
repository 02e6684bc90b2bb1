/**
 * `forecast()`'s last rule, for an operation nothing is known of (a base plus a share of its age, within the cap), and what holds whatever it knows: the cap on uncertain waits, the deadline, Retry-After, and decide()'s
 * outcomes.
 */
import fc from 'fast-check';
import {forecast} from '../../../functions/forecast/forecast';
import {
  AGE_SHARE,
  MIN_WAIT_MS,
  UNSURE_BASE_MS,
} from '../../../functions/forecast/constants';
import {lroSettingsFor} from '../../../functions/core/presets';
import {decide, type PollResult} from '../../../functions/core/policy';
import {
  CAP,
  START,
  documents,
  history,
  noJitter,
  running,
  watch,
} from './forecast-support';

describe('rule 5 and the guarantees that stay', () => {
  it('an opaque operation: a base plus a share of its age, within the cap', () => {
    const waitAt = (age: number, r = 0) =>
      forecast(watch(), running(), START + age, () => r).transition.nextPollAt -
      START -
      age;
    expect(waitAt(0)).toBe(UNSURE_BASE_MS);
    expect(waitAt(30_000)).toBe(UNSURE_BASE_MS + 30_000 * AGE_SHARE);
    expect(waitAt(600_000)).toBe(CAP);
    // Jitter only shortens a wait, by at most a tenth.
    const young = UNSURE_BASE_MS + 30_000 * AGE_SHARE;
    expect(waitAt(30_000, 0.999)).toBeCloseTo(young * 0.9, -1);
  });

  it('an opaque operation is noticed within a base plus a share of its duration, and never waits past the cap', () => {
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
          // Times are epoch milliseconds: a wait read back from one is exact to about 1e-3 ms.
          expect(wait).toBeLessThanOrEqual(
            UNSURE_BASE_MS + age * AGE_SHARE + 0.01,
          );
          expect(wait).toBeLessThanOrEqual(CAP);
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

  it('an uncertain forecast never waits longer than the cap: the owners settings, nothing known, a history at its median', () => {
    fc.assert(
      fc.property(
        fc.double({min: 0.05, max: 3, noNaN: true}),
        fc.integer({min: 1000, max: 86_400_000}),
        fc.integer({min: 0, max: 86_400_000}),
        fc.integer({min: 0, max: 30}),
        (sigma, medianMs, elapsed, attempts) => {
          const now = START + elapsed;
          const prior = lroSettingsFor('redis.googleapis.com', 'create');
          // At or past its median, a history has long stopped skipping.
          const past = {
            durations: history(Math.min(medianMs, elapsed + 1), sigma),
          };
          const uncertain = [past, {prior}, {}];
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
