/**
 * Stage 4: N pending registrations whose due times are spread evenly over one minute, as in a steady state where
 * each is polled about once a minute (the default policy's cap), with operations that never finish. Ticks every
 * 60 s, as Cloud Scheduler would, until every registration has been polled once: how long the sweep takes, and how
 * late each first poll is after its due time.
 */
import type {CpuUse} from './cpu';
import {
  measurePollCpu,
  PROJECT,
  sendTick,
  uniqueName,
  type BenchEnv,
  type FunctionChild,
} from './env';
import type {ProbeReport} from './probe';
import {seeded} from './prng';
import {operationName, seed} from './seed';
import type {Timing} from './simulate';
import {quantile} from './stats';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
/** 1 s x 1.25^(n-1) passes the 60 s cap at n = 20. */
const STEADY_ATTEMPTS = 40;

/** What a sweep found. */
export interface Sweep {
  registrations: number;
  concurrency: number;
  seedMs: number;
  ticks: number;
  polled: number;
  /** Distinct registrations polled at least once. */
  swept: number;
  /** From the first tick to the last first poll; undefined when the sweep did not finish. */
  sweepSeconds?: number;
  /** Polls per second while ticks ran. */
  pollsPerSecond: number;
  lateness: {p50: number; p99: number; max: number; within5sPct: number};
  /** The same, for registrations due while a tick runs (not in the gap between ticks). */
  latenessInBudget: {p99: number; within5sPct: number};
  probe: ProbeReport;
  cpu: CpuUse;
}

/** Seeds, ticks and measures; `seedPerSecond` estimates how long seeding takes, so due times start after it. */
export async function sweep(
  env: BenchEnv,
  options: {
    registrations: number;
    concurrency: number;
    maxTicks: number;
    seedPerSecond: number;
    timing: Timing;
    log: (line: string) => void;
  },
): Promise<Sweep> {
  const periodMs = options.timing.tickEveryMs;
  const {registrations, concurrency} = options;
  await env.clearFirestore();
  env.fake.reset();
  const collection = uniqueName('bench-scale');
  const topicId = uniqueName('bench-scale');
  const [topic] = await env.pubsub.createTopic(topicId);
  const random = seeded(42);
  const lead = (1.3 * registrations * 1000) / options.seedPerSecond + 10_000;
  const start = Date.now() + lead;
  const due = Array.from(
    {length: registrations},
    () => start + random() * periodMs,
  );
  const index = neverFinishing(env, collection, registrations);
  const seedMs = await seed(env.firestore, {
    collection,
    topic: `projects/${PROJECT}/topics/${topicId}`,
    prefix: collection,
    count: registrations,
    dueAt: i => due[i],
    // Polled often enough that the default backoff is at its 60 s cap: the next polls come a minute apart.
    attempts: STEADY_ATTEMPTS,
  });
  const child = await env.startFunction(
    'poll',
    {OPERATIONS_COLLECTION: collection, POLL_CONCURRENCY: String(concurrency)},
    true,
  );
  if (Date.now() > start)
    options.log(`seeding overran the due times by ${Date.now() - start} ms`);
  await sleep(start - Date.now());

  const stopCpu = measurePollCpu(env, child);
  const ticked = await tickUntilSwept(env, child, {
    ...options,
    start,
    index,
    periodMs: periodMs,
  });
  const cpu = stopCpu();
  const probe = (await child.stop())!;
  await topic.delete();
  return {
    registrations,
    concurrency,
    seedMs,
    ticks: ticked.ticks,
    polled: ticked.polled,
    swept: ticked.swept,
    ...lateness(ticked, due, start, options.timing),
    probe,
    cpu,
  };
}

/** Defines `count` operations the fake API never finishes; maps each one's name to its index. */
function neverFinishing(
  env: BenchEnv,
  prefix: string,
  count: number,
): Map<string, number> {
  const index = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const name = operationName(prefix, i);
    index.set(name, i);
    env.fake.define(name, {kind: 'never'});
  }
  return index;
}

/** What the ticks of a sweep did, and when each registration was first polled (NaN: never). */
interface Ticked {
  ticks: number;
  polled: number;
  /** The ticks' working time, ms. */
  busyMs: number;
  swept: number;
  firstPoll: number[];
}

/**
 * Ticks `child` every period from `start`, as Cloud Scheduler would, until every registration of `index` has been
 * polled or `maxTicks` have run; reads each first poll from the fake API's request log.
 */
async function tickUntilSwept(
  env: BenchEnv,
  child: FunctionChild,
  options: {
    start: number;
    index: ReadonlyMap<string, number>;
    registrations: number;
    maxTicks: number;
    periodMs: number;
    log: (line: string) => void;
  },
): Promise<Ticked> {
  const {registrations} = options;
  const ticked: Ticked = {
    ticks: 0,
    polled: 0,
    busyMs: 0,
    swept: 0,
    firstPoll: new Array<number>(registrations).fill(NaN),
  };
  let read = 0;
  while (ticked.ticks < options.maxTicks && ticked.swept < registrations) {
    await sleep(options.start + ticked.ticks * options.periodMs - Date.now());
    ticked.ticks++;
    const {counts} = await sendTick<{polled: number; durationMs: number}>(
      child,
    );
    ticked.polled += counts.polled;
    ticked.busyMs += counts.durationMs;
    for (; read < env.fake.requests.length; read++) {
      const {name, at} = env.fake.requests[read];
      const i = options.index.get(name ?? '');
      if (i !== undefined && Number.isNaN(ticked.firstPoll[i])) {
        ticked.firstPoll[i] = at;
        ticked.swept++;
      }
    }
    options.log(
      `tick ${ticked.ticks}: ${counts.polled} polls in ${(counts.durationMs / 1000).toFixed(1)} s; ${ticked.swept}/${registrations} swept`,
    );
  }
  return ticked;
}

/** How late each first poll came after its registration's due time, and how fast the sweep went. */
function lateness(
  {firstPoll, swept, polled, busyMs}: Ticked,
  due: readonly number[],
  start: number,
  timing: Timing,
): Pick<
  Sweep,
  'sweepSeconds' | 'pollsPerSecond' | 'lateness' | 'latenessInBudget'
> {
  const registrations = due.length;
  const late = (i: number) => (firstPoll[i] - due[i]) / 1000;
  const all = due.map((_, i) => i).filter(i => !Number.isNaN(firstPoll[i]));
  const inBudget = all.filter(
    i => (due[i] - start) % timing.tickEveryMs < timing.budgetMs,
  );
  const share = (ids: number[]) =>
    (100 * ids.filter(i => late(i) <= 5).length) / registrations;
  const delays = all.map(late);
  return {
    sweepSeconds:
      swept === registrations
        ? (firstPoll.reduce((a, b) => Math.max(a, b)) - start) / 1000
        : undefined,
    pollsPerSecond: polled / (busyMs / 1000),
    lateness: {
      p50: quantile(delays, 0.5),
      p99: quantile(delays, 0.99),
      max: delays.reduce((a, b) => Math.max(a, b), -Infinity),
      within5sPct: share(all),
    },
    latenessInBudget: {
      p99: quantile(inBudget.map(late), 0.99),
      within5sPct:
        (100 * inBudget.filter(i => late(i) <= 5).length) /
        Math.max(1, inBudget.length),
    },
  };
}
