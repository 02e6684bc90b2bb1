/**
 * The command line of `npm run bench` (bench/run.ts): the stages to run, the sizes of a full and of a quick run,
 * each size settable on its own, and where the report goes.
 */
import {join, resolve} from 'node:path';
import {parseArgs} from 'node:util';

const ROOT = resolve(__dirname, '..', '..');
/** Every stage, in the order they run; bench/stages.ts runs each. */
export const STAGES = [
  'evaluation',
  'events',
  'real',
  'steady',
  'registration',
  'scale',
  'shards',
  'watch',
] as const;

/** Sizes of a full run, and of `--quick`, which runs fewer and smaller stages (the report says so). */
const PROFILES = {
  full: {
    stages: STAGES.join(','),
    seeds: 10,
    simJobs: 1000,
    simHours: 4,
    realJobs: 150,
    factor: 20,
    realMinutes: 20,
    realFamilies: 'opaque-2s-30m,progress-s-curve',
    steadyRuns: 3,
    steadyRate: 20,
    steadyWarmUp: 60,
    steadyWindow: 600,
    connections: '10,50',
    loadSeconds: 10,
    scaleSize: 100_000,
    scaleTicks: 2,
    shardSize: 20_000,
    shardWorkers: '1,2,4',
    watchOperations: 30,
  },
  quick: {
    stages: 'evaluation,events,real,steady,registration',
    seeds: 5,
    simJobs: 400,
    simHours: 2,
    realJobs: 30,
    factor: 50,
    realMinutes: 3,
    realFamilies: 'opaque-2s-30m',
    steadyRuns: 1,
    steadyRate: 10,
    steadyWarmUp: 40,
    steadyWindow: 30,
    connections: '10',
    loadSeconds: 3,
    scaleSize: 5000,
    scaleTicks: 2,
    shardSize: 2000,
    shardWorkers: '1,2',
    watchOperations: 10,
  },
};
type Profile = (typeof PROFILES)['full'];

const HELP = `npm run bench -- [--quick] [--out FILE] [--stages ${STAGES.join(',')}]
  sizes (full / quick): ${Object.keys(PROFILES.full)
    .map(
      key =>
        `--${key} ${PROFILES.full[key as keyof Profile]}/${PROFILES.quick[key as keyof Profile]}`,
    )
    .join(' ')}`;

/** The options and sizes of this run, from the command line; `--help` prints the usage and exits. */
export function readOptions() {
  const {values} = parseArgs({
    options: {
      quick: {type: 'boolean', default: false},
      help: {type: 'boolean', default: false},
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
  const stages = sizes.stages.split(',');
  for (const stage of stages) {
    if (!(STAGES as readonly string[]).includes(stage))
      throw new Error(`unknown stage ${stage}; stages: ${STAGES.join(',')}`);
  }
  const out = values.out
    ? resolve(String(values.out))
    : quick
      ? join(ROOT, 'dist', 'bench', 'benchmarks-quick.md')
      : join(ROOT, 'docs', 'benchmarks.md');
  if (sizes.seeds < 5) throw new Error('--seeds must be at least 5');
  return {quick, stages, out, sizes};
}

/** What {@link readOptions} read. */
export type Options = ReturnType<typeof readOptions>;
