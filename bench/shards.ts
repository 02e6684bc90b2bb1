/**
 * Stage 5: shard scaling. The same registrations (same operations, same topic, so the same ids and buckets) are
 * seeded for each worker count W; W real `poll` processes, POLL_SHARDS=W, each get `{"shard": k}` at once, as
 * the fan-out's push subscription would deliver them. Polls/s is all polls over the longest tick. A last run of
 * one worker under `node --cpu-prof` says where the poll process's CPU time goes.
 */
import {mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {measureCpu, type CpuUse} from './cpu';
import {summariseProfile, type ProfileSummary} from './cpu-profile';
import {sendTick, uniqueName, type BenchEnv} from './env';
import type {ProbeReport} from './probe';
import {seedFinishingNow} from './seed';

/** One worker count's run. */
export interface ShardRun {
  workers: number;
  registrations: number;
  concurrency: number;
  polled: number;
  /** The longest tick, ms. */
  durationMs: number;
  pollsPerSecond: number;
  /** Each worker's CPU ms per poll of its own. */
  cpuMsPerPoll: number[];
  /** All registration reads and writes (lease aside) over all polls. */
  readsPerPoll: number;
  writesPerPoll: number;
  cpu: CpuUse;
}

interface TickAnswer {
  polled: number;
  durationMs: number;
}

/** The shard runs, and the profile of one more single-worker run. */
export interface ShardResults {
  runs: ShardRun[];
  profile?: ProfileSummary;
}

/** Runs the seeded registrations with each worker count in turn, then once more profiled. */
export async function measureShards(
  env: BenchEnv,
  options: ShardOptions,
): Promise<ShardResults> {
  const topicId = uniqueName('bench-shards');
  const [topic] = await env.pubsub.createTopic(topicId);
  // A topic of its own: opwatch refuses to notify on its own fan-out topic, as a deployment would.
  const fanoutTopicId = uniqueName('bench-shards-fanout');
  const [fanoutTopic] = await env.pubsub.createTopic(fanoutTopicId);
  // One prefix for every run: the same operation names, hence the same ids and buckets.
  const prefix = uniqueName('bench-shards');
  const runs: ShardRun[] = [];
  let profile: ProfileSummary | undefined;
  try {
    for (const workers of [...options.workerCounts, 0]) {
      // 0: the profiled run, one worker.
      const profileDir =
        workers === 0
          ? mkdtempSync(join(tmpdir(), 'opwatch-bench-profile-'))
          : undefined;
      const run = await shardRun(env, options, {
        shards: Math.max(1, workers),
        topicId,
        fanoutTopicId,
        prefix,
        profileDir,
      });
      options.log(
        `${run.workers} worker(s)${profileDir ? ', profiled' : ''}: ${run.polled} polled in ${run.durationMs} ms, ${run.pollsPerSecond.toFixed(0)} polls/s, ${run.cpuMsPerPoll.map(ms => ms.toFixed(2)).join('/')} ms CPU per poll`,
      );
      if (profileDir) profile = summariseProfile(profileDir);
      else runs.push(run);
    }
  } finally {
    await Promise.all([topic.delete(), fanoutTopic.delete()]);
  }
  return {runs, profile};
}

/** What {@link measureShards} is asked to run. */
interface ShardOptions {
  registrations: number;
  workerCounts: readonly number[];
  concurrency: number;
  budgetSeconds: number;
  log: (line: string) => void;
}

/** One run: the registrations seeded afresh, `shards` workers each sent its shard's tick at once. */
async function shardRun(
  env: BenchEnv,
  options: ShardOptions,
  run: {
    shards: number;
    topicId: string;
    fanoutTopicId: string;
    prefix: string;
    profileDir?: string;
  },
): Promise<ShardRun> {
  const {shards} = run;
  await env.clearFirestore();
  env.fake.reset();
  const collection = uniqueName(`bench-shards-${shards}`);
  await seedFinishingNow(env, {
    collection,
    topicId: run.topicId,
    prefix: run.prefix,
    count: options.registrations,
  });
  const children = await Promise.all(
    Array.from({length: shards}, () =>
      env.startFunction(
        'poll',
        {
          OPERATIONS_COLLECTION: collection,
          POLL_CONCURRENCY: String(options.concurrency),
          POLL_BUDGET_SECONDS: String(options.budgetSeconds),
          POLL_SHARDS: String(shards),
          // Required with more than one shard; the bench sends each shard its call itself.
          POLL_FANOUT_TOPIC: run.fanoutTopicId,
        },
        true,
        run.profileDir,
      ),
    ),
  );
  const stopCpu = measureCpu(
    new Map([
      ...env.emulatorPids,
      ...children.map((child, k) => [`poll shard ${k}`, child.pid] as const),
    ]),
  );
  const answers = await Promise.all(
    children.map(async (child, shard) => {
      const {ok, counts} = await sendTick<TickAnswer>(child, {shard});
      if (!ok)
        throw new Error(`shard ${shard} failed: ${JSON.stringify(counts)}`);
      return counts;
    }),
  );
  const cpu = stopCpu();
  const probes = (await Promise.all(
    children.map(child => child.stop()),
  )) as ProbeReport[];
  return shardFigures(options, answers, probes, cpu);
}

/** A run's figures from each worker's answer and probe report. */
function shardFigures(
  options: ShardOptions,
  answers: readonly TickAnswer[],
  probes: readonly ProbeReport[],
  cpu: CpuUse,
): ShardRun {
  const polled = answers.reduce((sum, a) => sum + a.polled, 0);
  const durationMs = Math.max(...answers.map(a => a.durationMs));
  const sum = (pick: (p: ProbeReport) => number) =>
    probes.reduce((total, p) => total + pick(p), 0);
  return {
    workers: answers.length,
    registrations: options.registrations,
    concurrency: options.concurrency,
    polled,
    durationMs,
    pollsPerSecond: polled / (durationMs / 1000),
    cpuMsPerPoll: probes.map(
      (p, k) => p.cpuMs / Math.max(1, answers[k].polled),
    ),
    readsPerPoll: sum(p => p.reads - p.documentReads) / polled,
    writesPerPoll: sum(p => p.writes - p.documentWrites) / polled,
    cpu,
  };
}
