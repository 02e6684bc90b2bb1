/**
 * How a piece of work's time grows with its input, for tests that hold text handling to linear time without a
 * timed goal: the ratio of the time at four times the size to the time at the size. Linear work gives about 4,
 * quadratic about 16; the tests allow 8. Each time is the best of a few runs, and the size grows until the work
 * takes long enough to time above the machine's noise (or up to a cap, where it is fast whatever its growth).
 */
import {performance} from 'node:perf_hooks';

/** What a growth measurement found. */
export interface Growth {
  /** The size the ratio was taken at. */
  size: number;
  /** Best time at `size`, in milliseconds. */
  ms: number;
  /** Best time at four times `size` over `ms`. */
  ratio: number;
}

const RUNS = 5;

function best(run: () => void): number {
  let fastest = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const began = performance.now();
    run();
    fastest = Math.min(fastest, performance.now() - began);
  }
  return fastest;
}

/**
 * The growth of `prepare(size)()`'s time from `size` to `4 * size`, at the first size from `start` (doubling,
 * at most `cap`) where it takes `floorMs`. Preparing the input is not timed.
 */
export function growth(
  prepare: (size: number) => () => void,
  {start = 4096, cap = 1 << 20, floorMs = 2} = {},
): Growth {
  let size = start;
  let ms = best(prepare(size));
  while (ms < floorMs && size * 2 <= cap) {
    size *= 2;
    ms = best(prepare(size));
  }
  // Below the floor (fast even at the cap), the floor stands in: noise on a tiny time is no growth.
  const ratio = best(prepare(size * 4)) / Math.max(ms, floorMs);
  return {size, ms, ratio};
}
