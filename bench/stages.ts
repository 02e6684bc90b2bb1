/**
 * The stages of `npm run bench`, in the order they run. Each reads the run's options, adds its results, and says
 * what it does through its own progress line. A new stage is one more entry in {@link STAGE_RUNNERS} and in run-options.ts' STAGES, a field in results.ts, and a section in
 * report.ts' SECTIONS.
 */
import {OPWATCH, OPWATCH_EVENTS, OPWATCH_INFORMED, PEERS} from './contenders';
import type {BenchEnv} from './env';
import {evaluateFamilies, WORKFLOWS} from './evaluation';
import {EVENTS_FAMILY, simulateWithEvents} from './events';
import {FAMILIES} from './families';
import {SIMULATED_SERVICE} from './jobs';
import {seeded} from './prng';
import {realRun, type RealRun} from './real-run';
import type {RealRunOptions} from './real-rig';
import {measureRegistration} from './registration';
import type {Options} from './run-options';
import type {Results} from './results';
import {sweep} from './scale';
import {measureShards} from './shards';
import {steadyRun} from './steady';
import {measureWatch} from './watch';

/** What every stage gets: the options, the results so far, a progress line writer, and the emulators. */
export interface StageContext {
  options: Options;
  results: Omit<Results, 'machine' | 'durationMs'>;
  log: (line: string) => void;
  env?: BenchEnv;
}

/** One stage: whether it needs the emulators, and what it does. */
export interface StageRunner {
  needsEnv: boolean;
  run(context: StageContext): Promise<void>;
}

const numbers = (list: string) => list.split(',').map(Number);
const seedList = (count: number) =>
  Array.from({length: count}, (_, i) => i + 1);
const needEnv = (context: StageContext) => {
  if (!context.env) throw new Error('this stage needs the emulators');
  return context.env;
};

/** The compressed real run of `jobs` for `contenders`, with the run's sizes. */
function realOptions(
  context: StageContext,
  extra: Pick<RealRunOptions, 'contenders' | 'jobs'> & Partial<RealRunOptions>,
): RealRunOptions {
  const {sizes} = context.options;
  return {
    windowMs: sizes.realMinutes * 60_000,
    factor: sizes.factor,
    latencyMs: context.results.timing.latencyMs,
    timing: context.results.timing,
    seed: 2,
    log: context.log,
    ...extra,
  };
}

export const STAGE_RUNNERS: Record<string, StageRunner> = {
  /** Every family, tuning and held-out, simulated over the seeds. */
  evaluation: {
    needsEnv: false,
    async run({options: {sizes}, results, log}) {
      log(
        `${FAMILIES.length} families x ${sizes.seeds} seeds x ${sizes.simJobs} operations, simulated...`,
      );
      results.evaluation = evaluateFamilies({
        count: sizes.simJobs,
        windowMs: sizes.simHours * 3_600_000,
        seeds: seedList(sizes.seeds),
        timing: results.timing,
        log,
      });
    },
  },
  /** opwatch with completion events, simulated over the seeds; its real run is the real stage's. */
  events: {
    needsEnv: false,
    async run({options: {sizes}, results}) {
      results.events = simulateWithEvents({
        count: sizes.simJobs,
        windowMs: sizes.simHours * 3_600_000,
        seeds: seedList(sizes.seeds),
        timing: results.timing,
      });
    },
  },
  /**
   * Compressed real runs: opwatch and peers in the same harness, each with its own state; on the completion
   * events' family, opwatch with completion events too.
   */
  real: {
    needsEnv: true,
    async run(context) {
      const {sizes} = context.options;
      context.results.real = [];
      for (const key of sizes.realFamilies.split(',')) {
        const family = FAMILIES.find(f => f.key === key);
        if (!family) throw new Error(`no family ${key}`);
        const contenders = [
          OPWATCH_INFORMED,
          ...(key === EVENTS_FAMILY.key ? [OPWATCH_EVENTS] : []),
          OPWATCH,
          WORKFLOWS,
          PEERS[0],
        ];
        const jobs = family.draw(
          sizes.realJobs,
          sizes.realMinutes * 60_000,
          seeded(2),
        );
        context.log(
          `${key}: ${jobs.length} operations each for ${contenders.map(c => c.name).join(', ')}, compressed ${sizes.factor}x...`,
        );
        const run: RealRun = await realRun(
          needEnv(context),
          realOptions(context, {contenders, jobs, service: SIMULATED_SERVICE}),
        );
        context.results.real.push({
          family: key,
          role: family.role,
          description: family.description,
          run,
        });
      }
    },
  },
  /** Throughput and CPU as deployed, at a steady state, once per run asked for. */
  steady: {
    needsEnv: true,
    async run(context) {
      const {sizes} = context.options;
      context.results.steady = [];
      for (let run = 1; run <= sizes.steadyRuns; run++) {
        context.log(
          `run ${run}/${sizes.steadyRuns}: ${sizes.steadyRate} registrations/s, ${sizes.steadyWarmUp} s warm-up, ${sizes.steadyWindow} s window...`,
        );
        context.results.steady.push(
          await steadyRun(needEnv(context), {
            deployment: context.results.deployment,
            ratePerSecond: sizes.steadyRate,
            warmUpSeconds: sizes.steadyWarmUp,
            windowSeconds: sizes.steadyWindow,
            seed: run,
            log: context.log,
          }),
        );
      }
    },
  },
  registration: {
    needsEnv: true,
    async run(context) {
      const {sizes} = context.options;
      context.results.registration = await measureRegistration(
        needEnv(context),
        {
          connections: numbers(sizes.connections),
          durationSeconds: sizes.loadSeconds,
          log: context.log,
        },
      );
    },
  },
  /** N registrations due over a minute, at the deployed concurrency. */
  scale: {
    needsEnv: true,
    async run(context) {
      const {sizes} = context.options;
      context.log(`seeding ${sizes.scaleSize} registrations...`);
      context.results.scale = [
        await sweep(needEnv(context), {
          registrations: sizes.scaleSize,
          concurrency: context.results.deployment.concurrency,
          maxTicks: sizes.scaleTicks,
          seedPerSecond: 2000,
          timing: context.results.timing,
          log: context.log,
        }),
      ];
    },
  },
  shards: {
    needsEnv: true,
    async run(context) {
      const {sizes} = context.options;
      const {deployment} = context.results;
      context.log(
        `${sizes.shardSize} registrations with ${sizes.shardWorkers} shard workers...`,
      );
      context.results.shards = await measureShards(needEnv(context), {
        registrations: sizes.shardSize,
        workerCounts: numbers(sizes.shardWorkers),
        concurrency: deployment.concurrency,
        budgetSeconds: deployment.budgetSeconds,
        log: context.log,
      });
    },
  } /** API calls per operation for a watched parent against registering each, in real time. */,
  watch: {
    needsEnv: true,
    async run(context) {
      context.results.watch = await measureWatch(needEnv(context), {
        operations: context.options.sizes.watchOperations,
        log: context.log,
      });
    },
  },
};
