/**
 * The monitoring in infra/ (monitoring.tf, monitoring-dashboard.json) against the code and itself: every alert and
 * every dashboard chart reads a metric the module defines, every alert notifies the channels the operator passes
 * in, the lag histogram has the buckets GET /stats sums, and the filters name the deployed functions and job.
 * Offline: the configuration is parsed, not planned. That the filters match what the functions log is
 * test/system/operability.test.ts's, which runs them.
 */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {LAG_HISTOGRAM} from '../../functions/notify/outcome-stats';
import {
  INFRA_DIR,
  block,
  blocks,
  resource,
  resourcesOf,
  strings,
  type Body,
} from './terraform-config';
import {defaultOf, ref, tf, useTerraform} from './terraform-support';

useTerraform();

const USER_METRIC = /logging\.googleapis\.com\/user\/([\w/]+)/g;

const metricNames = () =>
  resourcesOf(tf, 'google_logging_metric').map(m => m.body.name as string);
const alerts = () => resourcesOf(tf, 'google_monitoring_alert_policy');
const conditions = (alert: Body) => blocks(alert, 'conditions');
const dashboard = () =>
  JSON.parse(
    readFileSync(join(INFRA_DIR, 'monitoring-dashboard.json'), 'utf8'),
  ) as {mosaicLayout: {tiles: {widget: {title: string}}[]}};

/** The metric types a piece of configuration reads: Terraform references resolved to the metric's name. */
function metricsRead(value: unknown): string[] {
  const byResource = new Map(
    resourcesOf(tf, 'google_logging_metric').map(m => [m.name, m.body.name]),
  );
  return strings(value).flatMap(text => [
    ...[...text.matchAll(USER_METRIC)].map(match => match[1]),
    ...[...text.matchAll(/\$\{google_logging_metric\.(\w+)\.name\}/g)].map(
      match => String(byResource.get(match[1])),
    ),
  ]);
}

describe('monitoring', () => {
  test('defines the log-based metrics the operator needs', () => {
    expect(metricNames().sort()).toEqual(
      [
        'opwatch/notification_lag',
        'opwatch/notifications',
        'opwatch/poll_lateness',
        'opwatch/polls',
        'opwatch/registrations_refused',
        'opwatch/scheduler_failures',
        'opwatch/ticks_failed',
        'opwatch/watch_failures',
      ].sort(),
    );
    const lag = resource(tf, 'google_logging_metric', 'notification_lag');
    expect(block(lag, 'metric_descriptor')).toMatchObject({
      metric_kind: 'DELTA',
      value_type: 'DISTRIBUTION',
      unit: 'ms',
    });
    const failures = resource(tf, 'google_logging_metric', 'watch_failures');
    expect(failures.label_extractors).toBe(ref('local.notify_labels'));
    expect(Object.keys(tf.locals.get('notify_labels') as Body).sort()).toEqual([
      'outcome',
      'service',
    ]);
    const refused = resource(
      tf,
      'google_logging_metric',
      'registrations_refused',
    );
    expect(Object.keys(refused.label_extractors as Body)).toEqual(['reason']);
  });

  test('buckets the lag as GET /stats does', () => {
    const buckets = block(
      block(
        resource(tf, 'google_logging_metric', 'notification_lag'),
        'bucket_options',
      ),
      'exponential_buckets',
    );
    expect(buckets.num_finite_buckets).toBe(LAG_HISTOGRAM.finiteBuckets);
    expect(buckets.scale).toBe(LAG_HISTOGRAM.scaleMs);
    expect(buckets.growth_factor as number).toBeCloseTo(
      LAG_HISTOGRAM.growthFactor,
      12,
    );
  });

  test('filters on the deployed functions and Scheduler job by their names', () => {
    const functions = new Set(
      resourcesOf(tf, 'google_cloudfunctions2_function').map(
        f => f.body.name as string,
      ),
    );
    const named = [
      ...resourcesOf(tf, 'google_logging_metric').map(m => m.body.filter),
      tf.locals.get('published_filter'),
    ].flatMap(filter => [...String(filter).matchAll(/"(opwatch-[a-z-]+)"/g)]);
    expect(named.length).toBeGreaterThan(0);
    const job = resourcesOf(tf, 'google_cloud_scheduler_job')[0].body.name;
    for (const [, name] of named) expect([...functions, job]).toContain(name);
  });

  test('alerts on the lag p99 for 10 minutes, any undeliverable, three failed ticks in a row and the Scheduler job', () => {
    const lag = resource(
      tf,
      'google_monitoring_alert_policy',
      'notification_lag',
    );
    const threshold = block(conditions(lag)[0], 'condition_threshold');
    expect(threshold).toMatchObject({
      comparison: 'COMPARISON_GT',
      threshold_value: ref('var.alert_lag_p99_seconds * 1000'),
      duration: '600s',
    });
    expect(block(threshold, 'aggregations')).toMatchObject({
      per_series_aligner: 'ALIGN_DELTA',
      cross_series_reducer: 'REDUCE_PERCENTILE_99',
    });
    expect(metricsRead(threshold.filter)).toEqual(['opwatch/notification_lag']);

    const undeliverable = block(
      conditions(
        resource(tf, 'google_monitoring_alert_policy', 'undeliverable'),
      )[0],
      'condition_threshold',
    );
    expect(undeliverable.filter).toContain(
      'metric.label.outcome="undeliverable"',
    );
    expect(undeliverable).toMatchObject({
      comparison: 'COMPARISON_GT',
      threshold_value: 0,
    });

    const ticks = block(
      conditions(
        resource(tf, 'google_monitoring_alert_policy', 'ticks_failing'),
      )[0],
      'condition_matched_log',
    );
    expect(ticks.filter).toMatch(/jsonPayload\.failedInARow>=3/);

    const scheduler = block(
      conditions(
        resource(tf, 'google_monitoring_alert_policy', 'scheduler_failing'),
      )[0],
      'condition_threshold',
    );
    expect(metricsRead(scheduler.filter)).toEqual([
      'opwatch/scheduler_failures',
    ]);
  });

  test('sends every alert to the notification channels passed in, and documents each', () => {
    expect(defaultOf('notification_channels')).toEqual([]);
    expect(tf.variables.get('notification_channels')?.type).toBe(
      ref('list(string)'),
    );
    expect(alerts()).toHaveLength(4);
    for (const alert of alerts()) {
      expect(alert.body.notification_channels).toBe(
        ref('var.notification_channels'),
      );
      expect(String(block(alert.body, 'documentation').content)).toContain(
        'docs/operations.md',
      );
      for (const name of metricsRead(conditions(alert.body)))
        expect(metricNames()).toContain(name);
    }
  });

  test('draws every metric on the dashboard, with backlog and throughput, and nothing undefined', () => {
    const board = resource(tf, 'google_monitoring_dashboard', 'opwatch');
    expect(board.dashboard_json).toBe(
      ref('file("${path.module}/monitoring-dashboard.json")'),
    );
    const read = new Set(metricsRead(dashboard()));
    expect([...read].sort()).toEqual(metricNames().sort());
    const titles = dashboard().mosaicLayout.tiles.map(t => t.widget.title);
    expect(titles.filter(t => /^Backlog/.test(t))).toHaveLength(2);
    expect(titles.filter(t => /^Throughput/.test(t))).toHaveLength(2);
  });

  test('enables the Logging and Monitoring APIs it uses', () => {
    const services = String(tf.locals.get('services'));
    expect(services).toContain('"logging.googleapis.com"');
    expect(services).toContain('"monitoring.googleapis.com"');
  });
});
