/**
 * Throughput and CPU as deployed, at a steady state. The real `operations` and `poll` functions (Functions
 * Framework, each its own process, the probe counting their Firestore reads and writes) run with the deployment's
 * settings (deployed.ts); registrations arrive through `POST /operations` at a fixed rate, each operation done 5 s to
 * 30 s later (DURATION_MS); Cloud Scheduler's tick comes every period; the fake operations API answers after a
 * log-normal latency (median 80 ms, p99 800 ms) and fails 1 % of requests with a 500 or 503. After a warm-up, a
 * window measures arrivals, completions (notifications pulled from the topic), polls and CPU: a steady state
 * holds when completions keep up with arrivals and the backlog does not grow.
 */
import type {Message} from '@google-cloud/pubsub';
import {measureCpu, type CpuUse} from './cpu';
import type {Deployment} from './deployed';
import {sendTick, SERVICE, uniqueName, type BenchEnv} from './env';
import {logUniform, seeded} from './prng';
import type {ProbeReport} from './probe';
import {operationName} from './seed';
import {quantile} from './stats';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** The fake API as the issue sets it for this stage. */
export const API_LATENCY = {medianMs: 80, p99Ms: 800};
export const API_SERVER_ERRORS = 0.01;
/** Each operation is done this long after its registration, log-uniformly. */
export const DURATION_MS = {min: 5_000, max: 30_000};

/** What one steady-state run is asked to do. */
export interface SteadyOptions {
  deployment: Deployment;
  /** Registrations per second offered. */
  ratePerSecond: number;
  warmUpSeconds: number;
  windowSeconds: number;
  seed: number;
  log: (line: string) => void;
}

/** One run's measurements over its window. */
export interface SteadyRun {
  ratePerSecond: number;
  warmUpSeconds: number;
  windowSeconds: number;
  arrived: number;
  completed: number;
  polls: number;
  /** Registrations pending (registered, not yet notified) at the window's start and end. */
  backlogStart: number;
  backlogEnd: number;
  steady: boolean;
  /** Share of the window's polls the fake API answered 5xx. */
  serverErrorShare: number;
  registrationP50Ms: number;
  registrationP99Ms: number;
  /** CPU over the window: cores per process, the machine's share. */
  cpu: CpuUse;
  /** The probes' counts over each process's whole life, warm-up included. */
  pollProbe: ProbeReport;
  registrationProbe: ProbeReport;
  /** Registrations and polls over each process's whole life, to read the probes per registration and per poll. */
  registeredTotal: number;
  pollsTotal: number;
  /** Bytes of a notification's data and attributes, mean of those pulled. */
  notificationBytes: number;
  ticks: number;
}

/** Completions and backlog are steady when they are within this share of the window's arrivals. */
const STEADY_TOLERANCE = 0.05;

/** One steady-state run in a collection and topic of its own. */
export async function steadyRun(
  env: BenchEnv,
  options: SteadyOptions,
): Promise<SteadyRun> {
  const {deployment} = options;
  await env.clearFirestore();
  env.fake.reset();
  env.fake.setLatency(API_LATENCY);
  env.fake.setServerErrors(API_SERVER_ERRORS);
  const collection = uniqueName('bench-steady');
  const [topic] = await env.pubsub.createTopic(uniqueName('bench-steady'));
  const [fanout] = await env.pubsub.createTopic(uniqueName('bench-wake'));
  const [subscription] = await topic.createSubscription(
    `${topic.name.split('/').pop()}-sub`,
  );
  const [poll, operations] = await startFunctions(env, deployment, {
    OPERATIONS_COLLECTION: collection,
    POLL_FANOUT_TOPIC: fanout.name,
    DEFAULT_TOPIC: topic.name,
  });
  const notified: {at: number; bytes: number}[] = [];
  subscription.on('message', (message: Message) => {
    notified.push({at: Date.now(), bytes: messageBytes(message)});
    message.ack();
  });
  const ticks = scheduler(deployment.periodSeconds * 1000, () =>
    sendTick(poll),
  );
  const load = loadGenerator(env, operations.url, options);
  try {
    await sleep(options.warmUpSeconds * 1000);
    const start = snapshot(env, load.registered, notified);
    const stopCpu = measureCpu(
      new Map([
        ...env.emulatorPids,
        ['poll function', poll.pid],
        ['operations function', operations.pid],
        ['bench (load, fake API)', process.pid],
      ]),
    );
    await sleep(options.windowSeconds * 1000);
    const cpu = stopCpu();
    const end = snapshot(env, load.registered, notified);
    options.log(
      `${end.registered - start.registered} arrived, ${end.notified - start.notified} completed, ${end.polls - start.polls} polls in ${options.windowSeconds} s; backlog ${start.registered - start.notified} -> ${end.registered - end.notified}`,
    );
    await load.stop();
    const tickCount = ticks.stop();
    // The tick at work would run out its budget: the process is stopped under it (the probe reports at exit).
    const [pollProbe, registrationProbe] = (await Promise.all([
      poll.stop(),
      operations.stop(),
    ])) as ProbeReport[];
    await ticks.settled();
    return figures(options, {
      start,
      end,
      cpu,
      notified,
      load,
      ticks: tickCount,
      pollProbe,
      registrationProbe,
      polls: env.fake.requests.length,
    });
  } finally {
    await subscription.close();
    await subscription.delete();
    await Promise.all([topic.delete(), fanout.delete()]);
  }
}

/** The `poll` and `operations` functions with the deployment's settings, each probed. */
function startFunctions(
  env: BenchEnv,
  deployment: Deployment,
  shared: Record<string, string>,
) {
  return Promise.all([
    env.startFunction(
      'poll',
      {
        ...shared,
        POLL_CONCURRENCY: String(deployment.concurrency),
        POLL_BUDGET_SECONDS: String(deployment.budgetSeconds),
      },
      true,
    ),
    env.startFunction(
      'operations',
      {...shared, MAX_PENDING_PER_OWNER: String(10_000_000)},
      true,
    ),
  ]);
}

/** A Pub/Sub message as billed: its data and its attributes' keys and values. */
function messageBytes(message: Message): number {
  return (
    message.data.length +
    Object.entries(message.attributes).reduce(
      (sum, [key, value]) => sum + key.length + value.length,
      0,
    )
  );
}

/** Counts at one moment: registrations accepted, notifications pulled, polls answered (and how many 5xx). */
function snapshot(
  env: BenchEnv,
  registered: readonly number[],
  notified: readonly unknown[],
) {
  const requests = env.fake.requests;
  return {
    registered: registered.length,
    notified: notified.length,
    polls: requests.length,
    serverErrors: requests.filter(r => r.status >= 500).length,
  };
}
type Snapshot = ReturnType<typeof snapshot>;

/**
 * Cloud Scheduler: `tick` every `periodMs`, not waiting for the last. `stop` sends no more and says how many were
 * sent; `settled` resolves once each has answered or failed.
 */
function scheduler(periodMs: number, tick: () => Promise<unknown>) {
  const running: Promise<unknown>[] = [];
  const fire = () => running.push(tick().catch(() => undefined));
  fire();
  const timer = setInterval(fire, periodMs);
  return {
    stop(): number {
      clearInterval(timer);
      return running.length;
    },
    async settled(): Promise<void> {
      await Promise.all(running);
    },
  };
}

/**
 * Registrations at `ratePerSecond` through `POST /operations`, each of an operation the fake API finishes a few
 * seconds to a minute later; `registered` holds each accepted one's response time.
 */
function loadGenerator(env: BenchEnv, url: string, options: SteadyOptions) {
  const random = seeded(options.seed);
  const registered: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let serial = 0;
  const post = async () => {
    const name = operationName(`steady-${options.seed}`, serial++);
    env.fake.define(name, {
      kind: 'finish',
      afterMs: logUniform(random, DURATION_MS.min, DURATION_MS.max),
    });
    const began = performance.now();
    const response = await fetch(`${url}/operations`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({operation: `https://${SERVICE}/v1/${name}`}),
    });
    await response.arrayBuffer();
    if (response.status === 201) registered.push(performance.now() - began);
  };
  const timer = setInterval(() => {
    const request = post().catch(() => undefined);
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }, 1000 / options.ratePerSecond);
  return {
    registered,
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}

/** The run's figures from its window's snapshots and its processes' probes. */
function figures(
  options: SteadyOptions,
  parts: {
    start: Snapshot;
    end: Snapshot;
    cpu: CpuUse;
    notified: readonly {bytes: number}[];
    load: {registered: readonly number[]};
    ticks: number;
    pollProbe: ProbeReport;
    registrationProbe: ProbeReport;
    polls: number;
  },
): SteadyRun {
  const {start, end} = parts;
  const arrived = end.registered - start.registered;
  const completed = end.notified - start.notified;
  const backlogStart = start.registered - start.notified;
  const backlogEnd = end.registered - end.notified;
  const polls = end.polls - start.polls;
  const sample = parts.notified.slice(0, 1000);
  return {
    ratePerSecond: options.ratePerSecond,
    warmUpSeconds: options.warmUpSeconds,
    windowSeconds: options.windowSeconds,
    arrived,
    completed,
    polls,
    backlogStart,
    backlogEnd,
    steady:
      Math.abs(completed - arrived) <= STEADY_TOLERANCE * arrived &&
      backlogEnd - backlogStart <= STEADY_TOLERANCE * arrived,
    serverErrorShare:
      (end.serverErrors - start.serverErrors) / Math.max(1, polls),
    registrationP50Ms: quantile(parts.load.registered, 0.5),
    registrationP99Ms: quantile(parts.load.registered, 0.99),
    cpu: parts.cpu,
    pollProbe: parts.pollProbe,
    registrationProbe: parts.registrationProbe,
    registeredTotal: parts.load.registered.length,
    pollsTotal: parts.polls,
    notificationBytes:
      sample.reduce((sum, n) => sum + n.bytes, 0) / Math.max(1, sample.length),
    ticks: parts.ticks,
  };
}
