/**
 * A workload for real: the jobs through the real poller, the real emulators and the fake operations API, with time
 * compressed by a factor F, then set beside the simulation of the same jobs.
 *
 * Registrations go through the real validation and store, then the real tick wake (functions/polling/tick-wake.ts),
 * whose wake runs a tick here after the simulation's `wakeDelayMs` (compressed, as the API's latency is) instead
 * of going through Pub/Sub's push; the poller is functions/polling/poller.ts wired as
 * functions/index.ts wires it (the forecaster and the learned durations included), on a clock running F times
 * faster (clock.ts): its settings and every policy stay as deployed, Cloud Scheduler's period and the operations'
 * durations are divided by F, and the fake API answers each operation as the simulation does (`operationAt`). What
 * cannot be compressed (a Firestore round trip, an HTTP request's own overhead) is measured and reported, and the
 * simulation is re-run with it.
 */
import {DEFAULT_PUBLISH_GRACE_SECONDS} from '../functions/config';
import {DueRegistrations} from '../functions/polling/due-registrations';
import {PollLease} from '../functions/polling/lease';
import {createLogger} from '../functions/log';
import {ANONYMOUS} from '../functions/model';
import {parseAllowlists} from '../functions/registration/allowlists';
import type {NotificationPayload} from '../functions/notify/notification';
import {OperationsClient} from '../functions/google/operations-client';
import {KindDurations} from '../functions/polling/kind-durations';
import {Poller, type TickTrigger} from '../functions/polling/poller';
import {TickWake} from '../functions/polling/tick-wake';
import {PubSubPublisher} from '../functions/notify/publisher';
import {RegistrationStore} from '../functions/registration/store';
import {validateRegistration} from '../functions/registration/validation';
import {PubSub} from '@google-cloud/pubsub';
import type {Contender} from './contenders';
import {startCompletionEvents} from './events';
import {compressedClock} from './clock';
import {PROJECT, SERVICE, uniqueName, type BenchEnv} from './env';
import {seeded} from './prng';
import {operationName, RETENTION_MS} from './seed';
import {
  DEFAULT_TIMING,
  figures,
  operationAt,
  simulate,
  type Figures,
  type Job,
  type Timing,
  type Watched,
} from './simulate';
import {mean} from './stats';
import {pullMessages} from './support';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** One contender's figures in the real run, and the simulation's for the same jobs. */
export interface RealRow {
  contender: Contender;
  real: Figures;
  simulated: Figures;
  /** The simulation with the run's measured, uncompressible overheads. */
  simulatedWithOverheads: Figures;
}

/** What the compressed run found. */
export interface RealRun {
  factor: number;
  jobsPerContender: number;
  windowMs: number;
  wallMs: number;
  ticks: number;
  /** Ticks woken by new registrations that no running tick would have polled soon. */
  wakes: number;
  /** Mean page query and poll round trip, real milliseconds. */
  queryMs: number;
  pollMs: number;
  rows: RealRow[];
  /** Notifications missing, and registrations notified more than once (distinct message ids): expected 0 and 0. */
  missing: number;
  duplicated: number;
  /**
   * The duplicates by cause: the same payload (one publish sent twice), the same attempt count (one registration
   * state polled twice), or a later poll.
   */
  duplicates: {samePublish: number; sameState: number; laterPoll: number};
}

/** The poller's lease, in real time: ticks here never overlap, and a shorter one would only add lease writes. */
const LEASE_MS = 15_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** Runs `contenders` (all with a policy) side by side on the same jobs, each with its own registrations. */
export async function realRun(
  env: BenchEnv,
  options: {
    contenders: readonly Contender[];
    jobs: readonly Job[];
    windowMs: number;
    factor: number;
    /** The API host the operations come from: its preset, if any, gives the forecaster a prior. */
    service?: string;
    latencyMs: number;
    seed: number;
    log: (line: string) => void;
  },
): Promise<RealRun> {
  const {factor, contenders, jobs} = options;
  const service = options.service ?? SERVICE;
  const clock = compressedClock(factor);
  const collection = uniqueName('bench-real');
  const topicId = uniqueName('bench-real');
  const [topic] = await env.pubsub.createTopic(topicId);
  const [subscription] = await topic.createSubscription(`${topicId}-sub`);
  const endpointOverrides = new Map([[service, env.fake.baseUrl]]);
  env.fake.reset();
  env.fake.setLatency(options.latencyMs / factor);

  // Timing proxies: what the compressed run cannot compress.
  const due = new DueRegistrations(env.firestore, collection, RETENTION_MS);
  const client = new OperationsClient({
    endpointOverrides,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  const queryMs: number[] = [];
  const pollMs: number[] = [];
  const timed =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>, into: number[]) =>
    async (...args: A) => {
      const began = performance.now();
      const result = await f(...args);
      into.push(performance.now() - began);
      return result;
    };
  due.page = timed(due.page.bind(due), queryMs);
  client.get = timed(client.get.bind(client), pollMs);

  const publisherClient = new PubSub({projectId: PROJECT});
  const log = createLogger(() => {});
  const kinds = new KindDurations(env.firestore, collection, log, clock.now);
  // The lease reads the compressed clock too; its length is stretched so it still lasts LEASE_MS of real time.
  const leaseMs = LEASE_MS * factor;
  const makePoller = (budgetMs: number) =>
    new Poller({
      due,
      lease: holder =>
        new PollLease(env.firestore, collection, holder, leaseMs, clock.now),
      client,
      allowlists: parseAllowlists({
        GOOGLE_CLOUD_PROJECT: PROJECT,
        WATCH_SERVICES: service,
      }),
      sink: new PubSubPublisher(publisherClient),
      log,
      kinds,
      budgetMs,
      concurrency: DEFAULT_TIMING.concurrency,
      leaseMs,
      publishGraceMs: DEFAULT_PUBLISH_GRACE_SECONDS * 1000,
      // As functions/config.ts: the request timeout plus the lease, on the compressed clock.
      handOverMs: REQUEST_TIMEOUT_MS + LEASE_MS,
      now: clock.now,
      sleep: clock.sleep,
    });
  const poller = makePoller(DEFAULT_TIMING.budgetMs);
  const events = contenders.some(contender => contender.events)
    ? await startCompletionEvents({
        pubsub: env.pubsub,
        firestore: env.firestore,
        collection,
        poller: makePoller,
        clock,
      })
    : undefined;
  const announcements: NodeJS.Timeout[] = [];
  const store = new RegistrationStore(env.firestore, collection, RETENTION_MS);
  // Every tick, scheduled or woken, runs on; their errors are reported.
  const running: Promise<void>[] = [];
  let wakes = 0;
  const tickErrors: string[] = [];
  const startTick = (trigger: TickTrigger) =>
    running.push(
      poller.tick(undefined, trigger).then(
        () => {},
        (error: Error) => {
          tickErrors.push(error.message);
        },
      ),
    );
  const wake = new TickWake({
    firestore: env.firestore,
    collection,
    shards: 1,
    send: async () => {
      wakes++;
      setTimeout(
        () => startTick('registration'),
        DEFAULT_TIMING.wakeDelayMs / factor,
      );
    },
    log,
    now: clock.now,
  });
  const context = {
    projectId: PROJECT,
    defaultTopic: topic.name,
    endpointOverrides,
  };

  // Warm up (token, channels, connections) so the first ticks are not cold starts, which compression magnifies.
  const warmUp = operationName('real-warm-up', 0);
  env.fake.define(warmUp, {kind: 'finish', afterMs: 0});
  const warm = validateRegistration(
    {operation: `https://${service}/v1/${warmUp}`},
    context,
  );
  if (warm.ok) await store.register(warm.value, ANONYMOUS, clock.now());
  await poller.tick();
  await pullMessages(subscription, {count: 1, timeoutMs: 5000});

  const doneAt = new Map<string, number>();
  const start = Date.now() + 1000;
  const registrations = contenders.flatMap(contender =>
    jobs.map(async (job, index) => {
      await sleep(start + job.arrivalMs / factor - Date.now());
      const name = operationName(`real-${contender.key}`, index);
      const policy =
        'policy' in contender.schedule ? contender.schedule.policy : undefined;
      const validated = validateRegistration(
        {
          operation: `https://${service}/v1/${name}`,
          labels: {contender: contender.key, job: String(index)},
        },
        context,
      );
      if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
      if (policy) validated.value.pollPolicy = policy;
      // The operation starts as it is registered, and the fake answers it as the simulation would.
      const startedAt = clock.now();
      const started = {...job, arrivalMs: startedAt};
      env.fake.define(name, {
        kind: 'computed',
        operation: wallMs => operationAt(started, clock.at(wallMs)),
      });
      doneAt.set(`${contender.key}/${index}`, startedAt + job.durationMs);
      const {registration} = await store.register(
        validated.value,
        ANONYMOUS,
        startedAt,
      );
      await wake.registered(registration.id);
      if (contender.events && events) {
        announcements.push(
          setTimeout(() => events.announce(name), job.durationMs / factor),
        );
      }
    }),
  );

  // Cloud Scheduler: a tick every 60 s / F, whether or not the last one is still at work; with the budget equal to
  // the period, each waits for the one before to hand the lease over, as deployed.
  let ticks = 0;
  let stopped = false;
  const period = DEFAULT_TIMING.tickEveryMs / factor;
  const scheduler = (async () => {
    for (let slot = 0; !stopped; slot++) {
      await sleep(start + slot * period - Date.now());
      if (stopped) break;
      ticks++;
      startTick('scheduler');
    }
  })();

  const expected = jobs.length * contenders.length;
  const lastDone =
    Math.max(...jobs.map(job => job.arrivalMs + job.durationMs)) / factor;
  const giveUpAt = start + lastDone + (5 * DEFAULT_TIMING.tickEveryMs) / factor;
  const messages = new Map<string, NotificationPayload>();
  const notified = new Set<string>();
  let reported = 0;
  try {
    await Promise.all(registrations);
    while (notified.size < expected && Date.now() < giveUpAt) {
      const pulled = await pullMessages(subscription, {
        count: expected - notified.size,
        timeoutMs: 1000,
      });
      for (const {id, attributes, data} of pulled) {
        messages.set(id, data as NotificationPayload);
        notified.add(attributes.registrationId);
      }
      if (notified.size - reported >= expected / 10) {
        reported = notified.size;
        options.log(`${notified.size}/${expected} notified`);
      }
    }
  } finally {
    stopped = true;
    await scheduler;
    // Wakes sent just now start their ticks within wakeDelayMs / F.
    await sleep(DEFAULT_TIMING.wakeDelayMs / factor + 10);
    await Promise.all(running);
    for (const timer of announcements) clearTimeout(timer);
    await events?.stop();
    await publisherClient.close();
    await subscription.delete();
    await topic.delete();
  }
  if (tickErrors.length)
    options.log(`tick errors: ${tickErrors.slice(0, 3).join('; ')}`);

  // The first notification of each registration counts; any other is classified.
  const first = new Map<string, NotificationPayload>();
  const duplicates = {samePublish: 0, sameState: 0, laterPoll: 0};
  const ordered = [...messages.values()].sort(
    (a, b) => Date.parse(a.finishedAt) - Date.parse(b.finishedAt),
  );
  for (const message of ordered) {
    const key = `${message.labels.contender}/${message.labels.job}`;
    const earlier = first.get(key);
    if (!earlier) first.set(key, message);
    else if (earlier.attempts !== message.attempts) duplicates.laterPoll++;
    else if (earlier.finishedAt !== message.finishedAt) duplicates.sameState++;
    else duplicates.samePublish++;
  }
  const seen = new Map<string, Watched>(
    [...first].map(([key, message]) => [
      key,
      {
        polls: message.attempts,
        delayMs: Date.parse(message.finishedAt) - doneAt.get(key)!,
        durationMs: jobs[Number(message.labels.job)].durationMs,
        warmUp: jobs[Number(message.labels.job)].warmUp,
      },
    ]),
  );
  const measured: Timing = {
    ...DEFAULT_TIMING,
    ...(queryMs.length && {firestoreMs: mean(queryMs) * factor}),
    ...(pollMs.length && {latencyMs: mean(pollMs) * factor}),
  };
  const rows = contenders.map((contender, i) => {
    const real = [...seen]
      .filter(([key]) => key.startsWith(`${contender.key}/`))
      .map(([, watched]) => watched);
    // Every contender ran through the real poller: simulate it in opwatch's runtime.
    const deployed = {...contender, runtime: 'opwatch' as const};
    const sim = (timing: Timing) =>
      figures(simulate(deployed, jobs, timing, seeded(options.seed + i)));
    return {
      contender,
      real: figures(real),
      simulated: sim(DEFAULT_TIMING),
      simulatedWithOverheads: sim(measured),
    };
  });
  return {
    factor,
    jobsPerContender: jobs.length,
    windowMs: options.windowMs,
    wallMs: Date.now() - start,
    ticks,
    wakes,
    queryMs: mean(queryMs),
    pollMs: mean(pollMs),
    rows,
    missing: expected - seen.size,
    duplicated: messages.size - seen.size,
    duplicates,
  };
}
