/**
 * The lag histogram of GET /stats: buckets as Cloud Monitoring's exponential ones, and percentiles read from them
 * within a bucket of the true value; the minute figures of the deployment and of each tenant, on the Firestore
 * emulator.
 */
import {Firestore} from '@google-cloud/firestore';
import {
  LAG_HISTOGRAM,
  NotificationStats,
  bucketBounds,
  histogramQuantile,
  lagBucket,
  readLastHour,
} from '../../../functions/notify/outcome-stats';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';

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

describe('the minute figures', () => {
  const firestore = new Firestore({projectId: TEST_PROJECT});
  afterAll(() => firestore.terminate());

  it("counts a tenant's notifications in its own last hour and in the deployment's, never in another tenant's", async () => {
    const collection = uniqueName('stats');
    const now = Date.now();
    const stats = new NotificationStats(firestore, collection);
    stats.record('succeeded', now - 120_000, 1_000, 'team-a');
    stats.record('failed', now, 3_000, 'team-a');
    stats.record('succeeded', now, 2_000, 'team-b');
    stats.record('succeeded', now, 500);
    await stats.flush();

    const read = (tenant?: string) =>
      readLastHour(firestore, collection, now, tenant);
    const [whole, a, b, c] = await Promise.all([
      read(),
      read('team-a'),
      read('team-b'),
      read('team-c'),
    ]);
    expect(whole.notifications).toMatchObject({succeeded: 3, failed: 1});
    expect(whole.lagSeconds.count).toBe(4);
    expect(a.notifications).toMatchObject({succeeded: 1, failed: 1});
    expect(a.lagSeconds.count).toBe(2);
    expect(b.notifications).toMatchObject({succeeded: 1, failed: 0});
    expect(c.lagSeconds.count).toBe(0);
    // An hour on, the figures have left the last hour.
    const later = await readLastHour(firestore, collection, now + 3_600_000);
    expect(later.lagSeconds.count).toBe(0);
  });
});
