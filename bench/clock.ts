/**
 * The clock of a compressed real run: time running `factor` times faster than the wall clock. opwatch's own code
 * (the poller, the forecaster, the lease, the completions handler) reads this clock and sleeps on it, so every
 * setting, policy and learned duration stays in real units, and only the waits shrink. What cannot shrink (a
 * Firestore round trip, an HTTP request) is stretched by the factor instead, and the report says so.
 */

/** Compressed time, in milliseconds since the epoch, starting level with the wall clock. */
export interface CompressedClock {
  factor: number;
  now(): number;
  /** The compressed time at wall-clock time `wallMs`. */
  at(wallMs: number): number;
  /** Resolves after `ms` of compressed time. */
  sleep(ms: number): Promise<void>;
}

export function compressedClock(factor: number): CompressedClock {
  const origin = Date.now();
  const at = (wallMs: number) => origin + (wallMs - origin) * factor;
  return {
    factor,
    at,
    now: () => at(Date.now()),
    sleep: ms => new Promise(resolve => setTimeout(resolve, ms / factor)),
  };
}
