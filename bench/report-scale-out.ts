/**
 * Section 8 of docs/benchmarks.md: shard scaling at the deployed settings, and where the poll process's CPU time
 * goes.
 */
import type {ProfileSummary} from './cpu-profile';
import {table, verdict} from './report-format';
import type {Results} from './results';
import type {ShardRun} from './shards';
import {fmt} from './stats';

function profileTable(profile: ProfileSummary): string {
  return table(
    ['where (self time)', 'share of busy CPU'],
    profile.byPackage.map(entry => [entry.where, `${fmt(entry.pct, 3)} %`]),
  );
}

/** Section 8, or undefined when the run had no shard stage. */
export function scaleOutSection(results: Results): string | undefined {
  const shards = results.shards;
  if (!shards || shards.runs.length === 0) return undefined;
  const runs = shards.runs;
  const single = runs.find(run => run.workers === 1) ?? runs[0];
  return [
    ...shardLines(runs, single, {
      cores: results.machine.cpus,
      latencyMs: results.timing.latencyMs,
    }),
    '',
    shards.profile
      ? `**Where the poll process's CPU went** (\`node --cpu-prof\`, one worker, ${single.registrations} registrations, ${fmt(shards.profile.busyMs / 1000, 3)} s of busy CPU sampled, the main thread's and the worker thread's profiles summed):\n\n${profileTable(shards.profile)}`
      : 'No CPU profile in this run.',
    '',
  ].join('\n');
}

/** The shard runs' table and what they show. */
function shardLines(
  runs: readonly ShardRun[],
  single: ShardRun,
  {cores, latencyMs}: {cores: number; latencyMs: number},
): string[] {
  const reads = Math.max(...runs.map(run => run.readsPerPoll));
  const writes = Math.max(...runs.map(run => run.writesPerPoll));
  return [
    '### 8. Scaling out: shards',
    '',
    `The same ${single.registrations} registrations (same ids, so the same buckets) seeded due now for each worker count W; W real \`poll\` processes with POLL_SHARDS=W at the deployed POLL_CONCURRENCY=${single.concurrency} and budget, each sent \`{"shard": k}\` at once, as the fan-out's push subscription delivers them; the fake API answers in ${latencyMs} ms. Polls/s is all polls over the longest tick. The workers share this machine's ${cores} cores with the emulators, so speed-up past the cores measures the machine, not opwatch; on Cloud Functions each shard has an instance of its own. One run per worker count: no spread.`,
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
    `- **<= 1 read and <= 1 write per poll: ${verdict(reads <= 1.01 && writes <= 1.01)}** (at most ${fmt(reads, 5)} reads and ${fmt(writes, 5)} writes per poll).`,
  ];
}
