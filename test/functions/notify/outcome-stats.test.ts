/**
 * The lag histogram of GET /stats: buckets as Cloud Monitoring's exponential ones, and percentiles read from them
 * within a bucket of the true value.
 */
import {
  LAG_HISTOGRAM,
  bucketBounds,
  histogramQuantile,
  lagBucket,
} from '../../../functions/notify/outcome-stats';

describe('the lag histogram', () => {
  it('puts every lag in the bucket whose bounds hold it, as Cloud Monitoring does', () => {
    expect(lagBucket(0)).toBe(0);
    expect(lagBucket(LAG_HISTOGRAM.scaleMs - 1)).toBe(0);
    expect(lagBucket(LAG_HISTOGRAM.scaleMs)).toBe(1);
    for (const lag of [50, 51, 99.9, 1234, 60_000, 3_600_000, 5e7]) {
      const [lower, upper] = bucketBounds(lagBucket(lag));
      expect(lag).toBeGreaterThanOrEqual(lower);
      expect(lag).toBeLessThan(upper);
    }
    expect(lagBucket(1e12)).toBe(LAG_HISTOGRAM.finiteBuckets + 1);
    expect(bucketBounds(LAG_HISTOGRAM.finiteBuckets + 1)[1]).toBe(Infinity);
  });

  it('reads percentiles within a bucket (19 %) of the lags it was given', () => {
    const lags = Array.from({length: 1000}, (_, i) => 100 + i * 37);
    const buckets = new Map<number, number>();
    for (const lag of lags) {
      const k = lagBucket(lag);
      buckets.set(k, (buckets.get(k) ?? 0) + 1);
    }
    const sorted = [...lags].sort((a, b) => a - b);
    for (const q of [0.5, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1];
      const estimate = histogramQuantile(buckets, q)!;
      expect(Math.abs(estimate - exact) / exact).toBeLessThan(
        LAG_HISTOGRAM.growthFactor - 1,
      );
    }
    expect(histogramQuantile(new Map(), 0.5)).toBeUndefined();
  });
});
