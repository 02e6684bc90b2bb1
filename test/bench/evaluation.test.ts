/**
 * What the benchmark's claims rest on: the intervals and what they allow one to claim, the families kept apart,
 * and one definition of delay, to Pub/Sub's acceptance of the notification.
 */
import {boundVerdict, compare, tInterval} from '../../bench/ci';
import {WORKFLOWS} from '../../bench/evaluation';
import {FAMILIES, WARM_UP_PER_KIND} from '../../bench/families';
import {seeded} from '../../bench/prng';
import {MODEL_TIMING, simulate, type Timing} from '../../bench/simulate';

const interval = (mean: number, half: number) => ({
  mean,
  low: mean - half,
  high: mean + half,
  n: 5,
});

describe('intervals', () => {
  it('a t interval over five values: the mean, and t(0.975, 4) standard errors either side', () => {
    const {mean, low, high, n} = tInterval([1, 2, 3, 4, 5]);
    expect(mean).toBe(3);
    expect(n).toBe(5);
    // s = sqrt(2.5), t(0.975, 4) = 2.7764.
    expect(high - mean).toBeCloseTo(2.7764 * Math.sqrt(2.5 / 5), 3);
    expect(mean - low).toBeCloseTo(high - mean, 9);
  });

  it('one value has no spread to go on: its interval is unbounded', () => {
    expect(tInterval([4])).toEqual({
      mean: 4,
      low: -Infinity,
      high: Infinity,
      n: 1,
    });
  });

  it('a win or a loss only where the intervals do not overlap', () => {
    expect(compare(interval(10, 1), interval(13, 1))).toBe('win');
    expect(compare(interval(13, 1), interval(10, 1))).toBe('loss');
    expect(compare(interval(10, 2), interval(13, 2))).toBe('tie');
  });

  it('a bound is met when the whole interval of the paired differences is at or below 0', () => {
    expect(boundVerdict([-3, -2.5, -3.2, -2.8, -3.1])).toBe('met');
    expect(boundVerdict([3, 2.5, 3.2, 2.8, 3.1])).toBe('not met');
    expect(boundVerdict([-1, 1, -0.5, 0.5, 0.2])).toBe('tie');
  });
});

describe('workload families', () => {
  it('tuning and held-out families are apart, and the held-out ones are the shapes issue 24 names', () => {
    const keys = (role: string) =>
      FAMILIES.filter(f => f.role === role).map(f => f.key);
    expect(keys('tuning')).toEqual([
      'opaque-2s-30m',
      'lognormal-0.2',
      'progress-linear',
      'lognormal-1.0',
    ]);
    expect(keys('held-out')).toEqual([
      'opaque-60s-2h',
      'lognormal-0.5',
      'two-modes',
      'pareto',
      'fail-early',
      'progress-s-curve',
      'progress-stuck',
    ]);
  });

  it('a seed draws the same workload, another seed another, and the first of each kind are warm-up', () => {
    const family = FAMILIES.find(f => f.key === 'lognormal-0.5')!;
    const draw = (seed: number) => family.draw(200, 3_600_000, seeded(seed));
    expect(draw(1)).toEqual(draw(1));
    expect(draw(2)).not.toEqual(draw(1));
    const byKind = new Map<string, number>();
    for (const job of draw(1).filter(j => j.warmUp))
      byKind.set(job.kind!, (byKind.get(job.kind!) ?? 0) + 1);
    expect([...byKind.values()]).toEqual(Array(4).fill(WARM_UP_PER_KIND));
  });

  it('fail-early operations end with an error, early', () => {
    const family = FAMILIES.find(f => f.key === 'fail-early')!;
    const failing = family
      .draw(1000, 3_600_000, seeded(3))
      .filter(j => j.fails);
    expect(failing.length).toBeGreaterThan(100);
    expect(failing.length).toBeLessThan(300);
  });
});

describe('delay', () => {
  const timing: Timing = {
    ...MODEL_TIMING,
    tickEveryMs: 60_000,
    budgetMs: 60_000,
    concurrency: 32,
  };

  it('runs from the moment the operation is done to Pub/Sub accepting its notification', () => {
    // Workflows polls at once, then 1 s and 1.25 s after each answer: at 0 and 1050 ms (running), 2350 ms (done).
    const [watched] = simulate(
      WORKFLOWS,
      [{arrivalMs: 0, durationMs: 1500}],
      timing,
      seeded(1),
    );
    expect(watched.polls).toBe(3);
    const answeredAt = 2350 + timing.latencyMs;
    expect(watched.delayMs).toBe(answeredAt + timing.publishMs - 1500);
  });
});
