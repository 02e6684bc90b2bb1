/**
 * The command line of `npm run bench` (bench/run.ts): the stages to run, the sizes of a full and of a quick run,
 * each size settable on its own, and where the report goes.
 */
import {join, resolve} from 'node:path';
import {parseArgs} from 'node:util';

const ROOT = resolve(__dirname, '..', '..');
const STAGES = [
  'policy',
  'events',
  'informed',
  'throughput',
  'registration',
  'scale',
  'shards',
  'watch',
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

/** The options and sizes of this run, from the command line; `--help` prints the usage and exits. */
export function readOptions() {
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

/** What {@link readOptions} read. */
export type Options = ReturnType<typeof readOptions>;
