/**
 * A seeded random source, so every run of the benchmark draws the same workload.
 */

/** mulberry32: a small, fast 32-bit PRNG; returns numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A draw between `min` and `max` whose logarithm is uniform. */
export function logUniform(random: () => number, min: number, max: number) {
  return min * Math.pow(max / min, random());
}

/** A standard normal draw (Box-Muller). */
export function normal(random: () => number): number {
  return (
    Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  );
}
