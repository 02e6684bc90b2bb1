/**
 * `npm run bench`: opwatch's benchmarks (issue 5). Starts what it needs (the real Firestore and Pub/Sub
 * emulators, the fake GCE metadata server, the fake operations API), runs the stages, prints progress and a
 * summary, and writes docs/benchmarks.md and docs/benchmarks-policies.svg.
 *
 *   npm run bench                       the full run (about 20 minutes)
 *   npm run bench -- --quick            a smoke run with small sizes, written to dist/bench/ instead of docs/
 *   npm run bench -- --stages policy,events,informed,throughput,registration,scale,shards --latency-ms 50 --out FILE
 *   npm run bench -- --quick --stages informed   W1, W2 and W3, simulated and in a short compressed real run
 *
 * Sizes can be set one by one too; see `--help`.
 */
import {execFileSync} from 'node:child_process';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {cpus, totalmem} from 'node:os';
import {dirname, join} from 'node:path';
import {OPWATCH, OPWATCH_EVENTS, PEERS, type Contender} from './contenders';
import {simulateWithEvents} from './events';
import {measureWatch} from './watch';
import {startEnv, type BenchEnv} from './env';
import {compareWorkloads, realWorkloads, type Target} from './informed';
import {seeded} from './prng';
import {comparePolicies, type SimulatedComparison} from './policies';
import {policyPlot, type PlotPoint} from './plot';
import {realRun} from './real-run';
import {measureRegistration} from './registration';
import {report} from './report';
import {readOptions, type Options} from './run-options';
import type {Results} from './results';
import {sweep, type Sweep} from './scale';
import {fmt} from './stats';
import {measureShards} from './shards';
import {measureTick} from './throughput';
import {drawWorkload} from './simulate';

const numbers = (list: string) => list.split(',').map(Number);

function uptime(): string {
  return execFileSync('uptime', {encoding: 'utf8'}).trim();
}

function machine(loadBefore: string): Results['machine'] {
  const model =
    /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ??
    cpus()[0]?.model ??
    'unknown';
  return {
    cpus: cpus().length,
    model,
    ramGiB: totalmem() / 2 ** 30,
    node: process.version,
    loadBefore,
    loadAfter: uptime(),
  };
}

/** What every stage gets: the options, the results so far, and a progress line writer per stage. */
interface Run {
  options: Options;
  results: Omit<Results, 'machine' | 'durationMs'>;
  say: (stage: string) => (line: string) => void;
  has: (stage: string) => boolean;
}

async function main(): Promise<void> {
  const options = readOptions();
  const startedAt = new Date();
  const loadBefore = uptime();
  const run: Run = {
    options,
    results: {
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      quick: options.quick,
      startedAt,
      latencyMs: options.latencyMs,
    },
    say: stage => line =>
      process.stdout.write(
        `[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${stage}: ${line}\n`,
      ),
    has: stage => options.stages.includes(stage),
  };
  simulatePolicies(run);
  simulateEvents(run);
  simulateInformed(run);

  // The simulations need nothing else; every other stage runs against the emulators.
  const needsEnv = [
    'policy',
    'events',
    'informed',
    'throughput',
    'registration',
    'scale',
    'shards',
    'watch',
  ].some(run.has);
  const env = needsEnv
    ? await startEnv(options.latencyMs, run.say('env'))
    : undefined;
  try {
    if (env) await measure(run, env);
  } finally {
    await env?.stop();
  }

  writeReport(
    {
      ...run.results,
      machine: machine(loadBefore),
      durationMs: Date.now() - startedAt.getTime(),
    },
    options.out,
  );
}

/** Stage 1, simulated: opwatch's default against its peers. */
function simulatePolicies({options: {sizes}, results, say, has}: Run): void {
  if (!has('policy')) return;
  const log = say('policy');
  log(`simulating ${sizes.simJobs} operations per policy...`);
  const comparison = comparePolicies({
    jobCount: sizes.simJobs,
    windowMs: sizes.simHours * 3_600_000,
    searchJobs: Math.min(sizes.simJobs, 2000),
    seed: 1,
    log,
  });
  for (const row of comparison.rows)
    log(
      `${row.contender.name}: ${fmt(row.figures.pollsMean)} polls/op, delay p50 ${fmt(row.figures.delayP50S)} s p99 ${fmt(row.figures.delayP99S)} s, delay/duration p50 ${fmt(row.figures.relativeP50)} p99 ${fmt(row.figures.relativeP99)}`,
    );
  results.policy = {comparison};
}

/** Stage 1b, simulated: opwatch with completion events. */
function simulateEvents({options: {sizes}, results, say, has}: Run): void {
  if (!has('events')) return;
  const log = say('events');
  const simulated = simulateWithEvents({
    jobCount: sizes.simJobs,
    windowMs: sizes.simHours * 3_600_000,
    seed: 1,
  });
  const [, events] = simulated;
  log(
    `${events.contender.name}: ${fmt(events.figures.pollsMean)} polls/op, delay p50 ${fmt(events.figures.delayP50S)} s p99 ${fmt(events.figures.delayP99S)} s`,
  );
  results.events = {simulated};
}

/** Stage 1b, simulated: informed polling on W1, W2 and W3. */
function simulateInformed({options: {sizes}, results, say, has}: Run): void {
  if (!has('informed')) return;
  const log = say('informed');
  log(`simulating W1, W2 and W3, ${sizes.simJobs} operations each...`);
  results.informed = compareWorkloads({
    count: sizes.simJobs,
    windowMs: sizes.simHours * 3_600_000,
    seed: 3,
  });
  logTargets(log, results.informed);
}

/** Each workload's targets, met or not. */
function logTargets(
  log: (line: string) => void,
  workloads: readonly {key: string; targets: readonly Target[]}[],
): void {
  for (const workload of workloads)
    log(
      `${workload.key}: ${workload.targets.map(t => `${t.text} ${t.met ? 'met' : 'NOT met'}`).join('; ')}`,
    );
}

/** The stages that run against the emulators, in order. */
async function measure(run: Run, env: BenchEnv): Promise<void> {
  await realRuns(run, env);
  const seedPerSecond = await throughputStage(run, env);
  const {options, results, say, has} = run;
  const {sizes} = options;
  if (has('registration')) {
    results.registration = await measureRegistration(env, {
      connections: numbers(sizes.connections),
      durationSeconds: sizes.loadSeconds,
      log: say('registration'),
    });
  }
  if (has('scale')) results.scale = await scaleStage(run, env, seedPerSecond);
  if (has('shards')) {
    const log = say('shards');
    log(
      `${sizes.shardSize} registrations with ${sizes.shardWorkers} shard workers...`,
    );
    results.shards = await measureShards(env, {
      registrations: sizes.shardSize,
      workerCounts: numbers(sizes.shardWorkers),
      concurrency: sizes.highConcurrency,
      budgetSeconds: 300,
      log,
    });
  }
  if (has('watch'))
    results.watch = await measureWatch(env, {
      operations: options.quick ? 10 : 30,
      log: say('watch'),
    });
}

/** The compressed real runs of the simulated stages that ran. */
async function realRuns(run: Run, env: BenchEnv): Promise<void> {
  const {options, results, say} = run;
  const {sizes} = options;
  // The policy and events stages' real runs share their jobs.
  const jobs = drawWorkload(
    sizes.realJobs,
    sizes.realMinutes * 60_000,
    seeded(2),
  );
  const onJobs = (contenders: Contender[], log: (line: string) => void) =>
    realRun(env, {
      contenders,
      jobs,
      windowMs: sizes.realMinutes * 60_000,
      factor: sizes.factor,
      latencyMs: options.latencyMs,
      seed: 2,
      log,
    });
  if (results.policy) {
    const log = say('policy (real)');
    const contenders = [
      OPWATCH,
      ...PEERS.filter(p => ['api-core-py', 'gax-go'].includes(p.key)),
    ];
    log(
      `${sizes.realJobs} operations each for ${contenders.map(c => c.name).join(', ')}, time compressed ${sizes.factor}x...`,
    );
    results.policy.real = await onJobs(contenders, log);
  }
  if (results.events) {
    const log = say('events (real)');
    log(
      `${sizes.realJobs} operations for ${OPWATCH_EVENTS.name}, time compressed ${sizes.factor}x...`,
    );
    // Its own run, on the policy stage's jobs: its completions ticks would poll the other contenders' too.
    results.events.real = await onJobs([OPWATCH_EVENTS], log);
  }
  if (results.informed) {
    results.informedReal = await realWorkloads(env, {
      count: sizes.realJobs,
      windowMs: sizes.realMinutes * 60_000,
      factor: sizes.factor,
      latencyMs: options.latencyMs,
      seed: 3,
      log: say('informed (real)'),
    });
    logTargets(say('informed (real)'), results.informedReal);
  }
}

/**
 * Stage 2, when asked for: one tick at the default concurrency, then the memory runs.
 * @returns how fast registrations were seeded (the last tick's), for the scale stage's lead time.
 */
async function throughputStage(run: Run, env: BenchEnv): Promise<number> {
  let seedPerSecond = 2000;
  if (!run.has('throughput')) return seedPerSecond;
  const {sizes} = run.options;
  const log = run.say('throughput');
  const tick = (
    registrations: number,
    concurrency: number,
    budgetSeconds: number,
    checkPublishes: boolean,
  ) =>
    measureTick(env, {
      registrations,
      concurrency,
      budgetSeconds,
      checkPublishes,
      log,
    }).then(measured => {
      log(
        `${registrations} at concurrency ${concurrency}: ${fmt(measured.pollsPerSecond)} polls/s, ${fmt(measured.readsPerPoll)} reads and ${fmt(measured.writesPerPoll)} writes per poll, peak RSS ${fmt(measured.probe.peakRssKb / 1024)} MiB`,
      );
      seedPerSecond = (registrations * 1000) / measured.seedMs;
      return measured;
    });
  const atDefault = await tick(sizes.tickSize, 32, 50, true);
  // The memory runs share one configuration, with a budget long enough to work through every size.
  const memory = [];
  for (const size of numbers(sizes.memorySizes))
    memory.push(
      await tick(size, sizes.highConcurrency, 300, size === sizes.tickSize),
    );
  const atHigh =
    memory.find(m => m.registrations === sizes.tickSize) ??
    (await tick(sizes.tickSize, sizes.highConcurrency, 300, true));
  run.results.throughput = {atDefault, atHigh, memory};
  return seedPerSecond;
}

/** Stage 4: a sweep at each concurrency asked for. */
async function scaleStage(
  {options: {sizes}, say}: Run,
  env: BenchEnv,
  seedPerSecond: number,
): Promise<Sweep[]> {
  const sweeps: Sweep[] = [];
  for (const concurrency of numbers(sizes.scaleConcurrency)) {
    const log = say(`scale @${concurrency}`);
    log(`seeding ${sizes.scaleSize} registrations...`);
    sweeps.push(
      await sweep(env, {
        registrations: sizes.scaleSize,
        concurrency,
        maxTicks: sizes.scaleTicks,
        seedPerSecond,
        log,
      }),
    );
  }
  return sweeps;
}

/** Writes docs/benchmarks.md (or `out`) and, with a policy stage, the policies' plot beside it; prints the report. */
function writeReport(final: Results, out: string): void {
  const markdown = report(final);
  mkdirSync(dirname(out), {recursive: true});
  writeFileSync(out, markdown);
  if (final.policy)
    writeFileSync(
      join(dirname(out), 'benchmarks-policies.svg'),
      policyPlot(plotPoints(final, final.policy.comparison)),
    );
  process.stdout.write(`\n${markdown}\n\nwritten to ${out}\n`);
}

/** The plot's points: each contender, the grid's best policy, and opwatch informed on W1. */
function plotPoints(
  final: Results,
  {rows, candidates}: SimulatedComparison,
): PlotPoint[] {
  const best = candidates[0];
  return [
    ...rows.map((row, i) => ({
      label: row.contender.name,
      figures: row.figures,
      highlight: i === 0,
    })),
    ...(best
      ? [
          {
            label: `best on the grid: ${best.policy.initialDelayMs / 1000} s x${best.policy.multiplier} <= ${best.policy.maxDelayMs / 1000} s, jitter ${best.policy.jitter}`,
            figures: best.figures,
            highlight: true,
          },
        ]
      : []),
    // W1 draws the same kind of workload as this comparison: opaque operations, 2 s to 30 min.
    ...(final.informed
      ? [
          {
            label: `opwatch informed (W1, ${final.informed[0].rows[0].figures.operations} operations)`,
            figures: final.informed[0].rows[0].figures,
            highlight: true,
          },
        ]
      : []),
  ];
}

main().then(
  () => process.exit(0),
  error => {
    process.stderr.write(`bench failed: ${(error as Error).stack}\n`);
    process.exit(1);
  },
);
