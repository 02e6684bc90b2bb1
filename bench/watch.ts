/**
 * The watch stage (`--stages watch`): API calls per operation for a watched parent against registering each
 * operation, in a real-time run of the poller's own code (functions/polling/poll-work.ts `newPoller`) on the
 * Firestore emulator and the fake operations API, whose ListOperations pages hold 100 operations.
 *
 * One seeded workload runs twice: operations start under one parent over a minute, durations log-uniform from
 * 2 s to 90 s. "register each": each is registered the moment it starts (default informed polling). "watch the
 * parent": one watch made before the first starts, LIST_INTERVAL_SECONDS at its default. Ticks run back to back
 * (at most one a second when they find nothing due);
 * notifications are recorded as the poller publishes them. API calls are what the fake API answered: operations.get
 * per operation, and the list pages.
 */
import type {Firestore} from '@google-cloud/firestore';
import {loadPollerConfig} from '../functions/core/config';
import {DEFAULT_TIMEOUT_MS} from '../functions/core/schemas';
import type {NotificationSink} from '../functions/notify/publisher';
import {createLogger} from '../functions/platform/log';
import {newPoller} from '../functions/polling/poll-work';
import {RegistrationStore} from '../functions/registration/store';
import {WatchStore} from '../functions/watches/watch-store';
import {PROJECT, SERVICE, uniqueName, type BenchEnv} from './env';
import {logUniform, seeded} from './prng';

/** What the watch stage measured, per way of watching. */
export interface WatchRow {
  mode: 'register each' | 'watch the parent';
  operations: number;
  notified: number;
  /** operations.get answered, all operations together. */
  gets: number;
  /** ListOperations pages answered. */
  listPages: number;
  /** Seconds from an operation's end to its notification's publish. */
  delayP50: number;
  delayP99: number;
}

/** The stage's result. */
export interface WatchResult {
  operations: number;
  spreadSeconds: number;
  durations: string;
  listIntervalSeconds: number;
  rows: WatchRow[];
}

const PARENT = `projects/${PROJECT}/databases/watched`;
const LIST_INTERVAL_SECONDS = 30;
const SPREAD_MS = 60_000;
/** What a watch and a registration of the workload share. */
const COMMON = {
  topic: `projects/${PROJECT}/topics/bench`,
  labels: {},
  timeoutMs: DEFAULT_TIMEOUT_MS,
  scopes: [],
  style: 'longrunning' as const,
};

interface Job {
  name: string;
  startMs: number;
  durationMs: number;
}

function jobs(count: number): Job[] {
  const random = seeded(26);
  return Array.from({length: count}, (_, i) => ({
    name: `${PARENT}/operations/w${i}`,
    startMs: Math.round(random() * SPREAD_MS),
    durationMs: Math.round(logUniform(random, 2000, 90_000)),
  })).sort((a, b) => a.startMs - b.startMs);
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Runs one way of watching the workload; resolves once every operation was notified or the run gave up. */
async function runMode(
  env: BenchEnv,
  mode: WatchRow['mode'],
  workload: Job[],
  log: (line: string) => void,
): Promise<WatchRow> {
  await env.clearFirestore();
  env.fake.reset();
  const collection = uniqueName('watch-bench');
  const config = loadPollerConfig({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    OPERATIONS_COLLECTION: collection,
    ENDPOINT_OVERRIDES: JSON.stringify({[SERVICE]: env.fake.baseUrl}),
    WATCH_PROJECTS: '*',
    POLL_BUDGET_SECONDS: '10',
    LIST_INTERVAL_SECONDS: String(LIST_INTERVAL_SECONDS),
  });
  const published = new Map<string, number>();
  const sink: NotificationSink = {
    async publish(_topic, message) {
      const name = String(message.attributes.operationName);
      if (!published.has(name)) published.set(name, Date.now());
      return 'id';
    },
  };
  const db: Firestore = env.firestore;
  const poller = newPoller(
    config,
    db,
    config.budgetMs,
    sink,
    createLogger(() => {}),
  );
  const began = Date.now();
  if (mode === 'watch the parent') {
    await new WatchStore(db, collection, config.retentionMs).create(
      {service: SERVICE, version: 'v1', parent: PARENT, ...COMMON},
      'bench',
      began,
    );
  }
  const starts = startWorkload(
    env,
    mode,
    workload,
    new RegistrationStore(db, collection, config.retentionMs),
  );
  const giveUpAt =
    began + SPREAD_MS + 90_000 + 3 * LIST_INTERVAL_SECONDS * 1000;
  while (published.size < workload.length && Date.now() < giveUpAt) {
    const tickStarted = Date.now();
    await poller.tick();
    log(`${mode}: ${published.size}/${workload.length} notified`);
    // A tick with nothing due within its budget ends at once: the next starts a second later, not in a loop.
    await new Promise(resolve =>
      setTimeout(resolve, Math.max(0, tickStarted + 1000 - Date.now())),
    );
  }
  await starts;
  return summary(env, mode, workload, published, began);
}

/** Starts each operation at its time on the fake API, and registers it at once when registering each. */
function startWorkload(
  env: BenchEnv,
  mode: WatchRow['mode'],
  workload: Job[],
  store: RegistrationStore,
): Promise<unknown> {
  return Promise.all(
    workload.map(async job => {
      await new Promise(resolve => setTimeout(resolve, job.startMs));
      env.fake.define(job.name, {kind: 'finish', afterMs: job.durationMs});
      if (mode !== 'register each') return;
      const url = `https://${SERVICE}/v1/${job.name}`;
      await store.register(
        {
          operation: {service: SERVICE, version: 'v1', name: job.name, url},
          ...COMMON,
        },
        'bench',
        Date.now(),
      );
    }),
  );
}

/** What the fake API answered, and how late the notifications came. */
function summary(
  env: BenchEnv,
  mode: WatchRow['mode'],
  workload: Job[],
  published: Map<string, number>,
  began: number,
): WatchRow {
  const listed = `${PARENT}/operations`;
  const requests = env.fake.requests;
  const delays = workload
    .filter(job => published.has(job.name))
    .map(
      job =>
        (published.get(job.name)! - (began + job.startMs + job.durationMs)) /
        1000,
    );
  return {
    mode,
    operations: workload.length,
    notified: published.size,
    gets: requests.filter(r => r.name !== undefined && r.name !== listed)
      .length,
    listPages: requests.filter(r => r.name === listed).length,
    delayP50: quantile(delays, 0.5),
    delayP99: quantile(delays, 0.99),
  };
}

/** Runs the stage: the same workload registered each, then watched. */
export async function measureWatch(
  env: BenchEnv,
  options: {operations: number; log: (line: string) => void},
): Promise<WatchResult> {
  const workload = jobs(options.operations);
  const rows: WatchRow[] = [];
  for (const mode of ['register each', 'watch the parent'] as const)
    rows.push(await runMode(env, mode, workload, options.log));
  return {
    operations: options.operations,
    spreadSeconds: SPREAD_MS / 1000,
    durations: 'log-uniform 2 s to 90 s',
    listIntervalSeconds: LIST_INTERVAL_SECONDS,
    rows,
  };
}

/** The report's section. */
export function watchSection(result: WatchResult): string {
  const fmt = (n: number) => Number(n.toPrecision(3)).toString();
  const lines = result.rows.map(row => {
    const calls = row.gets + row.listPages;
    return `| ${row.mode} | ${row.notified}/${row.operations} | ${row.gets} | ${row.listPages} | **${fmt(calls / row.operations)}** | ${fmt(row.delayP50)} | ${fmt(row.delayP99)} |`;
  });
  return [
    '### Watching a parent: API calls per operation',
    '',
    `Workload: ${result.operations} operations under one parent, starting over ${result.spreadSeconds} s, durations ${result.durations} (seeded); a real-time run of the poller (bench/watch.ts). "register each": every operation registered the moment it starts, default informed polling. "watch the parent": one \`POST /watches\` before the first starts, LIST_INTERVAL_SECONDS=${result.listIntervalSeconds}. API calls are the fake API's answers: \`operations.get\` and \`ListOperations\` pages (100 operations a page). The delay runs from an operation's end to its notification's publish.`,
    '',
    '| mode | notified | operations.get | list pages | API calls/op | delay p50 (s) | delay p99 (s) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...lines,
    '',
    'A watch spends one list per interval on all its operations together, and no `operations.get` on one a list finds done; its registrations are first polled two intervals after they are found, so an operation is noticed on the list interval rather than on its own forecast: fewer calls, a longer delay. Completion events (functions/completions/) make the parent list at once when an operation ends.',
    '',
  ].join('\n');
}
