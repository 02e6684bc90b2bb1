/**
 * Section 5 of docs/benchmarks.md: shard scaling, the lean poll's before and after with where the CPU time
 * went, and the scale model priced from list prices.
 */
import {BUCKETS} from '../functions/core/shards';
import type {ProfileSummary} from './cpu-profile';
import {table, verdict} from './report-format';
import type {Results} from './results';
import type {ShardRun} from './shards';
import {
  PRICES,
  SEQUENTIAL_WRITES_PER_RANGE,
  SEQUENTIAL_WRITES_SOURCE,
  costPerThousand,
  scalePoint,
  type ModelInputs,
} from './scale-model';
import {fmt} from './stats';

/** The figures of docs/benchmarks.md before the lean poll (commit 45eee40, same machine class). */
const BEFORE = {
  pollsPerSecond: 458,
  cpuMsPerPoll: 2.09,
  registrationCpuMs: 1.9,
  /** The main costs of a tick's CPU in a `node --cpu-prof` of the poll process, share of busy time. */
  profile: [
    ['garbage collection', 14.0],
    [
      'node:domain (the Functions Framework wraps each request in a domain)',
      12.8,
    ],
    [
      'fetch (undici), with the answer read chunk by chunk as a web stream',
      10.3,
    ],
    [
      'promise destroy hooks (registerDestroyHook, async_hooks), there for the domain',
      9.5,
    ],
    ['module loading at start-up', 6.0],
    ['@google-cloud/firestore, gRPC and protobuf', 9.6],
    ['opwatch itself (poller, client, notification, log)', 4.6],
  ] as const,
};

const PENDING = [100_000, 1_000_000];
/** Polls per operation when the run has no policy stage: a ten-minute operation at the one-minute cap. */
const ASSUMED_POLLS_PER_OPERATION = 10;

const usd = (value: number) =>
  `$${value < 0.01 ? value.toPrecision(3) : value.toFixed(3)}`;

function profileTable(profile: ProfileSummary): string {
  return table(
    ['where (self time)', 'share of busy CPU'],
    profile.byPackage.map(entry => [entry.where, `${fmt(entry.pct, 3)} %`]),
  );
}

/** Section 5, or undefined when the run had no shard stage. */
export function scaleOutSection(results: Results): string | undefined {
  const shards = results.shards;
  if (!shards || shards.runs.length === 0) return undefined;
  const figures = scaleOutFigures(results, shards.runs);
  return [
    ...shardLines(shards.runs, figures, results.machine.cpus),
    '',
    ...profileLines(shards.profile, figures.single),
    '',
    ...scaleModelLines(figures),
  ].join('\n');
}

/** The figures section 5's targets and scale model are read from, this run's best where stages overlap. */
interface ScaleOutFigures {
  /** The run with one worker. */
  single: ShardRun;
  pollsPerSecond: number;
  cpuMsPerPoll: number;
  /** Undefined without a registration stage. */
  registrationCpuMs?: number;
  /** The most registration reads and writes per poll of any run. */
  reads: number;
  writes: number;
  /** The policy stage's mean polls per operation for opwatch's default, if it ran. */
  opwatchPolicy?: number;
  inputs: ModelInputs;
}

function scaleOutFigures(
  results: Results,
  runs: readonly ShardRun[],
): ScaleOutFigures {
  const single = runs.find(run => run.workers === 1) ?? runs[0];
  const high = results.throughput?.atHigh;
  const pollsPerSecond = high
    ? Math.max(high.pollsPerSecond, single.pollsPerSecond)
    : single.pollsPerSecond;
  const cpuMsPerPoll = high
    ? high.probe.cpuMs / high.counts.polled
    : Math.min(...single.cpuMsPerPoll);
  const registrationCpuMs = results.registration?.length
    ? Math.min(
        ...results.registration.map(
          r =>
            (1000 * (r.cpu.cores['operations function'] ?? NaN)) /
            r.requestsPerSecond,
        ),
      )
    : undefined;
  const reads = Math.max(...runs.map(run => run.readsPerPoll));
  const writes = Math.max(...runs.map(run => run.writesPerPoll));

  const opwatchPolicy = results.policy?.comparison.rows[0]?.figures.pollsMean;
  const inputs: ModelInputs = {
    pollsPerSecond,
    budgetSeconds: 50,
    pollsPerOperation: opwatchPolicy ?? ASSUMED_POLLS_PER_OPERATION,
    registrationSeconds: (registrationCpuMs ?? BEFORE.registrationCpuMs) / 1000,
  };
  return {
    single,
    pollsPerSecond,
    cpuMsPerPoll,
    registrationCpuMs,
    reads,
    writes,
    opwatchPolicy,
    inputs,
  };
}

/** The shard runs' table and the targets of a lean poll. */
function shardLines(
  runs: readonly ShardRun[],
  {
    single,
    pollsPerSecond,
    cpuMsPerPoll,
    registrationCpuMs,
    reads,
    writes,
  }: ScaleOutFigures,
  cores: number,
): string[] {
  return [
    '### 5. Scaling out: shards, a lean poll, the scale model',
    '',
    `The same ${single.registrations} registrations (same ids, so the same buckets) seeded due now for each worker count W; W real \`poll\` processes with POLL_SHARDS=W and POLL_CONCURRENCY=${single.concurrency}, each sent \`{"shard": k}\` at once, as the fan-out's push subscription delivers them. Polls/s is all polls over the longest tick. The workers share this machine's ${cores} cores with the emulators, so speed-up past the cores measures the machine, not opwatch; on Cloud Functions each shard has an instance of its own.`,
    '',
    table(
      [
        'workers',
        'polled',
        'longest tick (s)',
        'polls/s',
        'speed-up',
        'CPU ms/poll per worker',
        'registration reads / writes per poll',
        'machine',
      ],
      runs.map(run => [
        String(run.workers),
        String(run.polled),
        fmt(run.durationMs / 1000),
        fmt(run.pollsPerSecond),
        `${fmt(run.pollsPerSecond / single.pollsPerSecond, 3)}x`,
        run.cpuMsPerPoll.map(ms => fmt(ms, 3)).join(' / '),
        `${fmt(run.readsPerPoll, 5)} / ${fmt(run.writesPerPoll, 5)}`,
        `${fmt(run.cpu.machineBusyPct, 3)} %`,
      ]),
    ),
    '',
    `- **Every registration polled once across the shards: ${verdict(runs.every(run => run.polled === run.registrations))}** (${runs.map(run => `${run.polled} at W=${run.workers}`).join(', ')}).`,
    `- **>= 1,000 polls/s on one instance: ${verdict(pollsPerSecond >= 1000)}** (${fmt(pollsPerSecond)}/s; before ${BEFORE.pollsPerSecond}/s).`,
    `- **<= 0.7 ms of CPU per poll: ${verdict(cpuMsPerPoll <= 0.7)}** (${fmt(cpuMsPerPoll, 3)} ms; before ${BEFORE.cpuMsPerPoll} ms; the poll process's whole CPU time, start-up included, over its polls).`,
    registrationCpuMs === undefined
      ? '- <= 1 ms of CPU per registration: not measured (no registration stage in this run).'
      : `- **<= 1 ms of CPU per registration: ${verdict(registrationCpuMs <= 1)}** (${fmt(registrationCpuMs, 3)} ms; before ${BEFORE.registrationCpuMs} ms).`,
    `- **<= 1 read and <= 1 write per poll: ${verdict(reads <= 1.01 && writes <= 1.01)}** (at most ${fmt(reads, 5)} reads and ${fmt(writes, 5)} writes per poll; a sweep now waits for its in-flight polls before it starts over, so no document still in flight is read again, however slow the API).`,
  ];
}

/** Where the poll process's CPU went, before the lean poll and in this run. */
function profileLines(
  profile: ProfileSummary | undefined,
  single: ShardRun,
): string[] {
  return [
    "**Where the poll process's CPU went, before** (`node --cpu-prof`, one tick of 3,000 registrations at POLL_CONCURRENCY=128):",
    '',
    table(
      ['where', 'share of busy CPU'],
      BEFORE.profile.map(([where, pct]) => [where, `${pct} %`]),
    ),
    '',
    "What changed: the handlers leave the Functions Framework's per-request `node:domain` before any work (every promise made inside a domain gets a property and every callback an enter and an exit), and the poll work (ticks and the fan-out) runs on a worker thread of the instance's own (functions/polling/tick-thread.ts): the framework's first domain enables Node's domain async hook on its thread for good, so every promise there gets a destroy hook, and async hooks are per thread. A tick writes the durations it learned once per kind at its end, not once per finished operation (a second write per poll); operations are polled with undici's `request` instead of `fetch` (its WHATWG layer cost 130 us a poll); the worker's log lines reach the main thread as one buffer per event-loop turn; only an answer that is kept (not an Operation) is scrubbed of credentials; the poll function's main thread no longer loads the poller's clients. Registration: an owner's pending registrations are counted once per 10 s, not per request (functions/registration/pending-quota.ts), creates share BulkWriter batches, and the Firestore client's spans through the no-op tracer are off.",
    '',
    profile
      ? `**After**, this run (one worker, ${single.registrations} registrations, ${fmt(profile.busyMs / 1000, 3)} s of busy CPU sampled, the main thread's and the worker thread's profiles summed):\n\n${profileTable(profile)}`
      : '**After**: no profile in this run.',
  ];
}

/** The scale model at 100,000 and 1,000,000 pending registrations, and the cost per 1,000 operations. */
function scaleModelLines({
  pollsPerSecond,
  opwatchPolicy,
  inputs,
}: ScaleOutFigures): string[] {
  const points = PENDING.map(pending => scalePoint(inputs, pending));
  const cost = costPerThousand(inputs);
  return [
    `**Scale model.** From this run's figures: ${fmt(pollsPerSecond)} polls/s per instance while a tick works ${inputs.budgetSeconds} s of each minute, each pending registration polled once a minute, ${fmt(inputs.pollsPerOperation, 3)} polls per watched operation (${opwatchPolicy === undefined ? 'assumed: a ten-minute operation at the one-minute cap; no policy stage in this run' : "the policy stage's mean for opwatch's default policy"}). Writes per index range: one write per poll, spread by the (state, bucket, nextPollAt) index over ${BUCKETS} bucket ranges, against Firestore's ${SEQUENTIAL_WRITES_PER_RANGE} writes/s for sequentially indexed values (${SEQUENTIAL_WRITES_SOURCE}); the single-field indexes of the rising fields are exempt (infra/firestore.tf).`,
    '',
    table(
      [
        'pending registrations',
        'polls/s needed',
        'poll instances (POLL_SHARDS)',
        'writes/s',
        'writes/s per index range',
        `within ${SEQUENTIAL_WRITES_PER_RANGE}/s`,
      ],
      points.map(point => [
        String(point.pending),
        fmt(point.pollsPerSecond),
        String(point.instances),
        fmt(point.writesPerSecond),
        fmt(point.writesPerIndexRange, 3),
        verdict(point.withinWriteLimit),
      ]),
    ),
    '',
    `Cost per 1,000 watched operations (each registered once, polled ${fmt(inputs.pollsPerOperation, 3)} times, notified once; free tiers left out): Firestore reads ${usd(cost.firestoreReads)}, writes ${usd(cost.firestoreWrites)}, function time ${usd(cost.functionTime)} (poll instance seconds at 1 vCPU and 512 MiB, the registration request priced the same), Pub/Sub ${usd(cost.pubsub)}; **total ${usd(cost.total)}**. The cost per operation does not depend on the number pending: instances scale with the polls. The fan-out adds one small message per shard per minute, published and pushed (1,000 bytes billed each): under $0.01 a month per shard.`,
    '',
    'Prices (list, USD):',
    '',
    ...Object.values(PRICES).map(
      price => `- ${usd(price.usd)} per ${price.per}: ${price.source}`,
    ),
    '',
  ];
}
