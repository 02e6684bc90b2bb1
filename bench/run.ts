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
import {dirname, join, resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {OPWATCH, OPWATCH_EVENTS, PEERS} from './contenders';
import {simulateWithEvents} from './events';
import {startEnv} from './env';
import {compareWorkloads, realWorkloads} from './informed';
import {seeded} from './prng';
import {comparePolicies} from './policies';
import {policyPlot} from './plot';
import {realRun} from './real-run';
import {measureRegistration} from './registration';
import {report, type Results} from './report';
import {sweep} from './scale';
import {fmt} from './stats';
import {measureShards} from './shards';
import {measureTick} from './throughput';
import {drawWorkload} from './simulate';

const ROOT = resolve(__dirname, '..', '..');
const STAGES = [
  'policy',
  'events',
  'informed',
  'throughput',
  'registration',
  'scale',
  'shards',
] as const;

/** Sizes of a full run, and of `--quick`. */
const PROFILES = {
  full: {
    simJobs: 5000,
    simHours: 4,
    realJobs: 150,
    factor: 20,
    realMinutes: 30,
    tickSize: 10_000,
    highConcurrency: 128,
    memorySizes: '2000,10000,50000',
    connections: '10,50',
    loadSeconds: 10,
    scaleSize: 100_000,
    scaleConcurrency: '32,128',
    scaleTicks: 3,
    shardSize: 20_000,
    shardWorkers: '1,2,4',
  },
  quick: {
    simJobs: 1000,
    simHours: 1,
    realJobs: 30,
    factor: 60,
    realMinutes: 10,
    tickSize: 2000,
    highConcurrency: 128,
    memorySizes: '500,2000,5000',
    connections: '10',
    loadSeconds: 3,
    scaleSize: 5000,
    scaleConcurrency: '32',
    scaleTicks: 2,
    shardSize: 2000,
    shardWorkers: '1,2,4',
  },
};
type Profile = (typeof PROFILES)['full'];

const HELP = `npm run bench -- [--quick] [--stages ${STAGES.join(',')}] [--latency-ms 50] [--out FILE]
  sizes (full / quick): ${Object.keys(PROFILES.full)
    .map(
      key =>
        `--${key} ${PROFILES.full[key as keyof Profile]}/${PROFILES.quick[key as keyof Profile]}`,
    )
    .join(' ')}`;

function readOptions() {
  const {values} = parseArgs({
    options: {
      quick: {type: 'boolean', default: false},
      help: {type: 'boolean', default: false},
      stages: {type: 'string', default: STAGES.join(',')},
      'latency-ms': {type: 'string', default: '50'},
      out: {type: 'string'},
      ...Object.fromEntries(
        Object.keys(PROFILES.full).map(key => [key, {type: 'string' as const}]),
      ),
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const base: Profile = quick ? PROFILES.quick : PROFILES.full;
  const sizes = Object.fromEntries(
    Object.entries(base).map(([key, fallback]) => {
      const given = (values as Record<string, unknown>)[key];
      if (given === undefined) return [key, fallback];
      return [key, typeof fallback === 'number' ? Number(given) : given];
    }),
  ) as Profile;
  const stages = String(values.stages).split(',');
  for (const stage of stages) {
    if (!(STAGES as readonly string[]).includes(stage))
      throw new Error(`unknown stage ${stage}; stages: ${STAGES.join(',')}`);
  }
  const out = values.out
    ? resolve(String(values.out))
    : quick
      ? join(ROOT, 'dist', 'bench', 'benchmarks-quick.md')
      : join(ROOT, 'docs', 'benchmarks.md');
  return {
    quick,
    stages,
    latencyMs: Number(values['latency-ms']),
    out,
    sizes,
  };
}

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

async function main(): Promise<void> {
  const options = readOptions();
  const {sizes, latencyMs} = options;
  const startedAt = new Date();
  const loadBefore = uptime();
  const say = (stage: string) => (line: string) =>
    process.stdout.write(
      `[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${stage}: ${line}\n`,
    );
  const results: Omit<Results, 'machine' | 'durationMs'> = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: options.quick,
    startedAt,
    latencyMs,
  };
  const has = (stage: string) => options.stages.includes(stage);

  if (has('policy')) {
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

  if (has('events')) {
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

  if (has('informed')) {
    const log = say('informed');
    log(`simulating W1, W2 and W3, ${sizes.simJobs} operations each...`);
    results.informed = compareWorkloads({
      count: sizes.simJobs,
      windowMs: sizes.simHours * 3_600_000,
      seed: 3,
    });
    for (const workload of results.informed)
      log(
        `${workload.key}: ${workload.targets.map(t => `${t.text} ${t.met ? 'met' : 'NOT met'}`).join('; ')}`,
      );
  }

  // The simulations need nothing else; every other stage runs against the emulators.
  const needsEnv = [
    'policy',
    'events',
    'informed',
    'throughput',
    'registration',
    'scale',
    'shards',
  ].some(has);
  const env = needsEnv ? await startEnv(latencyMs, say('env')) : undefined;
  // The policy and events stages' real runs share their jobs.
  const realJobs = drawWorkload(
    sizes.realJobs,
    sizes.realMinutes * 60_000,
    seeded(2),
  );
  try {
    if (results.policy && env) {
      const log = say('policy (real)');
      const contenders = [
        OPWATCH,
        ...PEERS.filter(p => ['api-core-py', 'gax-go'].includes(p.key)),
      ];
      log(
        `${sizes.realJobs} operations each for ${contenders.map(c => c.name).join(', ')}, time compressed ${sizes.factor}x...`,
      );
      results.policy.real = await realRun(env, {
        contenders,
        jobs: realJobs,
        windowMs: sizes.realMinutes * 60_000,
        factor: sizes.factor,
        latencyMs,
        seed: 2,
        log,
      });
    }
    if (results.events && env) {
      const log = say('events (real)');
      log(
        `${sizes.realJobs} operations for ${OPWATCH_EVENTS.name}, time compressed ${sizes.factor}x...`,
      );
      // Its own run, on the policy stage's jobs: its completions ticks would poll the other contenders' too.
      results.events.real = await realRun(env, {
        contenders: [OPWATCH_EVENTS],
        jobs: realJobs,
        windowMs: sizes.realMinutes * 60_000,
        factor: sizes.factor,
        latencyMs,
        seed: 2,
        log,
      });
    }
    if (results.informed && env) {
      results.informedReal = await realWorkloads(env, {
        count: sizes.realJobs,
        windowMs: sizes.realMinutes * 60_000,
        factor: sizes.factor,
        latencyMs,
        seed: 3,
        log: say('informed (real)'),
      });
      for (const workload of results.informedReal)
        say('informed (real)')(
          `${workload.key}: ${workload.targets.map(t => `${t.text} ${t.met ? 'met' : 'NOT met'}`).join('; ')}`,
        );
    }
    let seedPerSecond = 2000;
    if (has('throughput') && env) {
      const log = say('throughput');
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
        }).then(run => {
          log(
            `${registrations} at concurrency ${concurrency}: ${fmt(run.pollsPerSecond)} polls/s, ${fmt(run.readsPerPoll)} reads and ${fmt(run.writesPerPoll)} writes per poll, peak RSS ${fmt(run.probe.peakRssKb / 1024)} MiB`,
          );
          seedPerSecond = (registrations * 1000) / run.seedMs;
          return run;
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
      results.throughput = {atDefault, atHigh, memory};
    }
    if (has('registration') && env) {
      results.registration = await measureRegistration(env, {
        connections: numbers(sizes.connections),
        durationSeconds: sizes.loadSeconds,
        log: say('registration'),
      });
    }
    if (has('scale') && env) {
      results.scale = [];
      for (const concurrency of numbers(sizes.scaleConcurrency)) {
        const log = say(`scale @${concurrency}`);
        log(`seeding ${sizes.scaleSize} registrations...`);
        results.scale.push(
          await sweep(env, {
            registrations: sizes.scaleSize,
            concurrency,
            maxTicks: sizes.scaleTicks,
            seedPerSecond,
            log,
          }),
        );
      }
    }
    if (has('shards') && env) {
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
  } finally {
    await env?.stop();
  }

  const final: Results = {
    ...results,
    machine: machine(loadBefore),
    durationMs: Date.now() - startedAt.getTime(),
  };
  const markdown = report(final);
  mkdirSync(dirname(options.out), {recursive: true});
  writeFileSync(options.out, markdown);
  if (final.policy) {
    const {rows, candidates} = final.policy.comparison;
    const best = candidates[0];
    const svg = policyPlot([
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
    ]);
    writeFileSync(join(dirname(options.out), 'benchmarks-policies.svg'), svg);
  }
  process.stdout.write(`\n${markdown}\n\nwritten to ${options.out}\n`);
}

main().then(
  () => process.exit(0),
  error => {
    process.stderr.write(`bench failed: ${(error as Error).stack}\n`);
    process.exit(1);
  },
);
