/**
 * How learned durations are weighed (functions/forecast/history.ts), pure: decay by age across eras, and the
 * balance that keeps one owner from outweighing the others.
 */
import {durationIncrement} from '../../../functions/forecast/durations';
import {
  ERA_HALF_LIVES,
  HALF_LIFE_MS,
  added,
  balanced,
  eraOf,
  historyModel,
  learnedSums,
  scaled,
  slotOf,
  type StoredHistory,
} from '../../../functions/forecast/history';

const ERA_MS = ERA_HALF_LIVES * HALF_LIFE_MS;
const START = 1_800_000_000_000;

/** A history of `count` operations of `durationMs` by `owner`, learned at `at`. */
function learned(
  history: StoredHistory,
  owner: string,
  count: number,
  durationMs: number,
  at: number,
): StoredHistory {
  const era = String(eraOf(at));
  const slot = slotOf(owner);
  const bySlot = {...history[era]};
  const add = scaled(learnedSums(durationIncrement(durationMs), at), count);
  bySlot[slot] = bySlot[slot] ? added(bySlot[slot], add) : add;
  return {...history, [era]: bySlot};
}

describe('decay', () => {
  it('weighs an operation 2^-(age / half-life), the same on either side of an era boundary', () => {
    const boundary = (eraOf(START) + 1) * ERA_MS;
    for (const at of [boundary - 1000, boundary + 1000]) {
      const history = learned({}, 'a@x', 16, 2000, at);
      const later = historyModel(history, at + HALF_LIFE_MS);
      expect(later!.count).toBeCloseTo(8, 6);
      expect(later!.medianMs).toBeCloseTo(2000, 6);
    }
  });

  it('reads the previous era too, and none before it', () => {
    const at = eraOf(START) * ERA_MS + 1000;
    const history = learned({}, 'a@x', 1e12, 2000, at);
    // One era on, the previous era's sums weigh 2^-32 of their start: a trillion operations still count.
    expect(historyModel(history, at + ERA_MS)).toBeDefined();
    expect(historyModel(history, at + 2 * ERA_MS)).toBeUndefined();
  });
});

describe('balance', () => {
  const sums = (count: number, durationMs: number) => {
    const one = durationIncrement(durationMs);
    return {
      count,
      sumLog: one.sumLog * count,
      sumLogSquares: one.sumLogSquares * count,
    };
  };

  it('takes a lone owner whole', () => {
    expect(balanced([sums(40, 1000)])).toEqual(sums(40, 1000));
  });

  it('counts each owner at most as much as the others together', () => {
    const total = balanced([sums(1000, 600_000), sums(5, 6000), sums(5, 6000)]);
    expect(total.count).toBeCloseTo(20);
    // Half the weight on each side: the log-mean is midway between 6 s and 600 s.
    expect(Math.exp(total.sumLog / total.count)).toBeCloseTo(60_000, -2);
  });

  it('spreads owners over slots, the same owner always in the same one', () => {
    const slots = new Set(
      Array.from({length: 200}, (_, n) => slotOf(`owner-${n}@x`)),
    );
    expect(slots.size).toBeGreaterThan(40);
    expect(slotOf('a@x')).toBe(slotOf('a@x'));
  });
});
