/**
 * Operable in production, end to end on the emulators: both functions in processes of their own, as deployed,
 * watch operations that end every way (succeeded, failed, poll_error, undeliverable, still pending) and refuse
 * registrations for several reasons; a third poll process, whose Firestore is unreachable, fails its ticks. Then:
 *
 * - the notifications that arrived are CloudEvents (Pub/Sub binding, binary mode) with the attributes documented;
 * - `GET /stats` counts exactly the registrations made, finds the overdue one, and reports the hour's outcomes and
 *   a lag within a bucket of the lags the functions logged;
 * - a registration's trace is on the notification's log line;
 * - every log-based metric and log-match alert of infra/monitoring.tf matches lines the functions really wrote,
 *   and names no jsonPayload field they do not log.
 */
import {CloudEvent} from 'cloudevents';
import {statsSchema, type Stats} from '../../functions/core/stats';
import {bucketBounds, lagBucket} from '../../functions/notify/outcome-stats';
import {
  block,
  blocks,
  loadTerraform,
  resourcesOf,
  type TerraformConfig,
} from '../infra/terraform-config';
import {TEST_PROJECT, type PulledMessage} from '../support/emulator-env';
import {
  entryOf,
  extractedPath,
  parseFilter,
  valueAt,
  type LogEntry,
} from '../support/logging-filter';
import {
  OperabilityScenario,
  TRACE_ID,
  jsonLines,
  type Ending,
} from '../support/operability-scenario';
import {SpawnedFunction, functionEnv} from '../support/poll-process';
import {stackAddresses} from '../support/stack';

let scenario: OperabilityScenario;
let ids: Map<Ending, string>;
let messages: PulledMessage[];
let stats: Stats;

beforeAll(async () => {
  scenario = await OperabilityScenario.start();
  ids = scenario.ids;
  await scenario.registerEach();
  expect(await scenario.refuseThree()).toEqual([403, 400, 415]);
  expect(await scenario.tickUntilEnded()).not.toContain('pending');
  await scenario.makeOverdue();
  const answer = await scenario.operations.request({path: '/stats'});
  expect(answer.status).toBe(200);
  stats = statsSchema.parse(answer.body);
  expect(await scenario.failThreeTicks()).toEqual([503, 503, 503]);
  messages = await scenario.pull(4);
}, 240_000);

afterAll(() => scenario?.stop());

describe('notifications as CloudEvents', () => {
  it('carry the CloudEvents attributes of the Pub/Sub binding, binary mode, beside the data', () => {
    const published = ['succeeded', 'succeeded2', 'failed', 'poll_error'].map(
      e => ids.get(e as Ending),
    );
    expect(messages.map(m => m.attributes.registrationId).sort()).toEqual(
      published.sort(),
    );
    for (const {attributes, data} of messages) {
      const payload = data as {
        registrationId: string;
        outcome: string;
        registeredAt: string;
        finishedAt: string;
        operation?: {name: string};
      };
      expect(attributes).toMatchObject({
        'ce-specversion': '1.0',
        'ce-id': `${payload.registrationId}-${Date.parse(payload.registeredAt)}`,
        'ce-source': '//firestore.googleapis.com',
        'ce-type': `dev.opwatch.operation.v1.${payload.outcome}`,
        'ce-subject': attributes.operationName,
        'ce-time': payload.finishedAt,
        'content-type': 'application/json',
        outcome: payload.outcome,
        registrationId: payload.registrationId,
      });
      expect(attributes['ce-subject']).toMatch(/^projects\/.+\/operations\//);
      const event = new CloudEvent({
        specversion: attributes['ce-specversion'],
        id: attributes['ce-id'],
        source: attributes['ce-source'],
        type: attributes['ce-type'],
        subject: attributes['ce-subject'],
        time: attributes['ce-time'],
        datacontenttype: attributes['content-type'],
        data: payload,
      });
      expect(event.validate()).toBe(true);
    }
  });
});

describe('GET /stats', () => {
  it('counts the registrations made, by state and shard, and finds the overdue one', () => {
    expect(stats.states).toEqual({
      pending: 1,
      succeeded: 2,
      failed: 1,
      expired: 0,
      not_found: 0,
      poll_error: 1,
      cancelled: 0,
      undeliverable: 1,
    });
    expect(stats.shards).toEqual([
      {shard: 0, buckets: {from: 0, to: 256}, pending: 1, overdue: 1},
    ]);
    expect(stats.oldestOverdue).toMatchObject({
      id: ids.get('pending'),
      shard: 0,
    });
    expect(stats.oldestOverdue!.overdueSeconds).toBeGreaterThanOrEqual(119);
    expect(stats.oldestOverdue!.overdueSeconds).toBeLessThan(200);
  });

  it("reports the hour's outcomes, and a lag within a bucket of the lags the functions logged", () => {
    const {notifications, lagSeconds} = stats.lastHour;
    expect(notifications).toEqual({
      succeeded: 2,
      failed: 1,
      expired: 0,
      not_found: 0,
      poll_error: 1,
      undeliverable: 1,
    });
    const logged = notifyLines()
      .map(line => (line.audit as {lagMs?: number}).lagMs)
      .filter((lag): lag is number => lag !== undefined);
    expect(logged).toHaveLength(4);
    expect(lagSeconds.count).toBe(4);
    const [lowest, highest] = [Math.min(...logged), Math.max(...logged)];
    expect(lagSeconds.p50! * 1000).toBeGreaterThanOrEqual(
      bucketBounds(lagBucket(lowest))[0] - 1,
    );
    expect(lagSeconds.p99! * 1000).toBeLessThanOrEqual(
      bucketBounds(lagBucket(highest))[1] + 1,
    );
    expect(lagSeconds.p50!).toBeLessThanOrEqual(lagSeconds.p99!);
  });

  it('is for admins only', async () => {
    const env = functionEnv(stackAddresses(scenario.stack), {
      DEFAULT_TOPIC: scenario.stack.topic,
    });
    const other = await SpawnedFunction.start({target: 'operations', env});
    try {
      const answer = await other.request({path: '/stats'});
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({error: {status: 'PERMISSION_DENIED'}});
    } finally {
      await other.stop();
    }
  });
});

function notifyLines(): Record<string, unknown>[] {
  return jsonLines(scenario.poll).filter(
    line => (line.audit as {action?: string} | undefined)?.action === 'notify',
  );
}

it("a registration's trace is on its register and notify lines", () => {
  const trace = `projects/${TEST_PROJECT}/traces/${TRACE_ID}`;
  const id = ids.get('succeeded');
  const about = (lines: Record<string, unknown>[]) =>
    lines.filter(
      line =>
        (line.audit as {registrationId?: string} | undefined)
          ?.registrationId === id,
    );
  expect(
    about(jsonLines(scenario.operations)).map(
      line => line['logging.googleapis.com/trace'],
    ),
  ).toEqual([trace]);
  expect(
    about(notifyLines()).map(line => line['logging.googleapis.com/trace']),
  ).toEqual([trace]);
  const untraced = notifyLines().filter(
    line =>
      (line.audit as {registrationId: string}).registrationId ===
      ids.get('failed'),
  );
  expect(untraced[0]).not.toHaveProperty(['logging.googleapis.com/trace']);
});

describe('infra/monitoring.tf against the lines the functions wrote', () => {
  let tf: TerraformConfig;
  let entries: LogEntry[];
  let logged: Set<string>;

  beforeAll(async () => {
    tf = await loadTerraform();
    const service = (target: string) =>
      resourcesOf(tf, 'google_cloudfunctions2_function').find(
        f => block(f.body, 'build_config').entry_point === target,
      )!.body.name as string;
    entries = [
      ...jsonLines(scenario.operations).map(line =>
        entryOf(line, service('operations')),
      ),
      ...[scenario.poll, scenario.brokenPoll].flatMap(p =>
        jsonLines(p).map(line => entryOf(line, service('poll'))),
      ),
    ];
    logged = new Set(
      entries.flatMap(entry => paths(entry.jsonPayload, 'jsonPayload')),
    );
  });

  /** Every filter of a metric or log-match alert, with its extractors. */
  function filters(): {
    name: string;
    filter: string;
    extractors: string[];
    value?: string;
  }[] {
    // A value that is a whole `local.X` reference is that local's value, as Terraform sends it.
    const resolved = (value: unknown): unknown => {
      const local = /^\$\{local\.(\w+)\}$/.exec(String(value));
      return local ? tf.locals.get(local[1]) : value;
    };
    const metrics = resourcesOf(tf, 'google_logging_metric').map(m => ({
      name: m.name,
      filter: resolved(m.body.filter) as string,
      extractors: Object.values(
        (resolved(m.body.label_extractors) ?? {}) as Record<string, string>,
      ),
      value: m.body.value_extractor as string | undefined,
    }));
    const alerts = resourcesOf(tf, 'google_monitoring_alert_policy').flatMap(
      a =>
        blocks(a.body, 'conditions')
          .map(c => block(c, 'condition_matched_log'))
          .filter(log => log.filter !== undefined)
          .map(log => ({
            name: `alert ${a.name}`,
            filter: log.filter as string,
            extractors: Object.values(
              (log.label_extractors ?? {}) as Record<string, string>,
            ),
          })),
    );
    return [...metrics, ...alerts];
  }

  it('names no jsonPayload field the functions do not log', () => {
    const unknown = filters().flatMap(({name, filter, extractors, value}) =>
      [
        ...parseFilter(filter).fields,
        ...[...extractors, ...(value ? [value] : [])].map(extractedPath),
      ]
        .filter(field => field.startsWith('jsonPayload.') && !logged.has(field))
        .map(field => `${name}: ${field}`),
    );
    expect(unknown).toEqual([]);
    expect(filters().length).toBeGreaterThanOrEqual(9);
  });

  it("matches lines of the functions' own, and extracts every label and value from them", () => {
    for (const {name, filter, extractors, value} of filters()) {
      if (!filter.includes('cloud_run_revision')) continue;
      const matched = entries.filter(parseFilter(filter).matches);
      expect({name, matched: matched.length > 0}).toEqual({
        name,
        matched: true,
      });
      for (const entry of matched) {
        for (const path of extractors.map(extractedPath))
          expect({
            name,
            path,
            value: valueAt(entry, path) !== undefined,
          }).toEqual({name, path, value: true});
        if (value)
          expect(typeof valueAt(entry, extractedPath(value))).toBe('number');
      }
    }
  });

  it('counts what happened: each lag, failure, refusal and the third failed tick in a row', () => {
    const count = (metric: string) => {
      const {filter} = filters().find(f => f.name === metric)!;
      return entries.filter(parseFilter(filter).matches);
    };
    expect(count('notification_lag')).toHaveLength(4);
    expect(
      count('watch_failures')
        .map(e => valueAt(e, 'jsonPayload.audit.outcome'))
        .sort(),
    ).toEqual(['poll_error', 'undeliverable']);
    expect(
      count('registrations_refused')
        .map(e => valueAt(e, 'jsonPayload.audit.outcome'))
        .sort(),
    ).toEqual(['forbidden', 'invalid', 'unsupported_media']);
    expect(count('ticks_failed')).toHaveLength(3);
    expect(
      count('alert ticks_failing').map(e =>
        valueAt(e, 'jsonPayload.failedInARow'),
      ),
    ).toEqual([3]);
  });

  it("counts the Scheduler job's failed attempts by the job's name, from no payload field", () => {
    const job = resourcesOf(tf, 'google_cloud_scheduler_job')[0].body
      .name as string;
    const {filter} = filters().find(f => f.name === 'scheduler_failures')!;
    const attempt = (severity: string): LogEntry => ({
      resource: {type: 'cloud_scheduler_job', labels: {job_id: job}},
      severity,
      jsonPayload: {},
    });
    expect(parseFilter(filter).matches(attempt('ERROR'))).toBe(true);
    expect(parseFilter(filter).matches(attempt('INFO'))).toBe(false);
    expect(
      parseFilter(filter).fields.filter(f => f.startsWith('jsonPayload')),
    ).toEqual([]);
  });
});

/** Every path to a value in `value`, prefixed. */
function paths(value: unknown, prefix: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return [prefix];
  return [
    prefix,
    ...Object.entries(value).flatMap(([key, inner]) =>
      paths(inner, `${prefix}.${key}`),
    ),
  ];
}
