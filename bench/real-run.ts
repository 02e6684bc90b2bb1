/**
 * Stage 1, for real: the same kind of workload through the real poller, the real emulators and the fake
 * operations API, with time compressed by a factor F (every duration, delay, budget, tick period and the API's
 * latency divided by F), then read back in uncompressed seconds and set beside the simulation of the same jobs.
 *
 * Registrations go through the real validation and store; the poller is functions/polling/poller.ts wired as
 * functions/index.ts wires it, with `idleRecheckMs` scaled too. What cannot be compressed (a Firestore round
 * trip, an HTTP request's own overhead) is measured and reported, and the simulation is re-run with it.
 */
import {DEFAULT_PUBLISH_GRACE_SECONDS} from '../functions/config';
import {DueRegistrations} from '../functions/polling/due-registrations';
import {PollLease} from '../functions/polling/lease';
import {createLogger} from '../functions/log';
import {ANONYMOUS} from '../functions/model';
import {parseAllowlists} from '../functions/registration/allowlists';
import type {NotificationPayload} from '../functions/notify/notification';
import {OperationsClient} from '../functions/google/operations-client';
import type {PollPolicy} from '../functions/polling/policy';
import {Poller} from '../functions/polling/poller';
import {PubSubPublisher} from '../functions/notify/publisher';
import {RegistrationStore} from '../functions/registration/store';
import {validateRegistration} from '../functions/registration/validation';
import {PubSub} from '@google-cloud/pubsub';
import type {Contender} from './contenders';
import {startCompletionEvents} from './events';
import {PROJECT, SERVICE, uniqueName, type BenchEnv} from './env';
import {seeded} from './prng';
import {operationName, RETENTION_MS} from './seed';
import {
  DEFAULT_TIMING,
  drawWorkload,
  figures,
  simulate,
  type Figures,
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

/**
 * The policy in compressed time. It is set after validation: divided by the factor it falls below the API's
 * floors on pollPolicy, which bound abuse in real time, not a benchmark's compressed clock.
 */
function compressed(policy: PollPolicy, factor: number): PollPolicy {
  return {
    ...policy,
    initialDelayMs: policy.initialDelayMs / factor,
    maxDelayMs: policy.maxDelayMs / factor,
  };
}

/** Runs `contenders` (all with a policy) side by side on the same jobs, each with its own registrations. */
export async function realRun(
  env: BenchEnv,
  options: {
    contenders: readonly Contender[];
    jobsPerContender: number;
    windowMs: number;
    factor: number;
    latencyMs: number;
    seed: number;
    log: (line: string) => void;
  },
): Promise<RealRun> {
  const {factor, contenders} = options;
  const jobs = drawWorkload(
    options.jobsPerContender,
    options.windowMs,
    seeded(options.seed),
  );
  const collection = uniqueName('bench-real');
  const topicId = uniqueName('bench-real');
  const [topic] = await env.pubsub.createTopic(topicId);
  const [subscription] = await topic.createSubscription(`${topicId}-sub`);
  const endpointOverrides = new Map([[SERVICE, env.fake.baseUrl]]);
  env.fake.reset();
  env.fake.setLatency(options.latencyMs / factor);

  // Timing proxies: what the compressed run cannot compress.
  const due = new DueRegistrations(env.firestore, collection, RETENTION_MS);
  const client = new OperationsClient({
    endpointOverrides,
    requestTimeoutMs: 10_000,
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
  const makePoller = (budgetMs: number) =>
    new Poller({
      due,
      // The lease is not compressed: ticks here never overlap, and a shorter one would only add lease writes.
      lease: holder => new PollLease(env.firestore, collection, holder, 15_000),
      client,
      allowlists: parseAllowlists({GOOGLE_CLOUD_PROJECT: PROJECT}),
      sink: new PubSubPublisher(publisherClient),
      log: createLogger(() => {}),
      budgetMs,
      concurrency: DEFAULT_TIMING.concurrency,
      leaseMs: 15_000,
      publishGraceMs: DEFAULT_PUBLISH_GRACE_SECONDS * 1000,
      idleRecheckMs: DEFAULT_TIMING.recheckMs / factor,
    });
  const poller = makePoller(DEFAULT_TIMING.budgetMs / factor);
  const events = contenders.some(contender => contender.events)
    ? await startCompletionEvents({
        pubsub: env.pubsub,
        firestore: env.firestore,
        collection,
        poller: makePoller,
        factor,
      })
    : undefined;
  const announcements: NodeJS.Timeout[] = [];
  const store = new RegistrationStore(env.firestore, collection, RETENTION_MS);
  const context = {
    projectId: PROJECT,
    defaultTopic: topic.name,
    endpointOverrides,
  };

  // Warm up (token, channels, connections) so the first ticks are not cold starts, which compression magnifies.
  const warmUp = operationName('real-warm-up', 0);
  env.fake.define(warmUp, {kind: 'finish', afterMs: 0});
  const warm = validateRegistration(
    {operation: `https://${SERVICE}/v1/${warmUp}`},
    context,
  );
  if (warm.ok) await store.register(warm.value, ANONYMOUS, Date.now());
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
          operation: `https://${SERVICE}/v1/${name}`,
          labels: {contender: contender.key, job: String(index)},
        },
        context,
      );
      if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
      if (policy) validated.value.pollPolicy = compressed(policy, factor);
      // The operation starts once the registration is stored: its latency is not what is compared here.
      env.fake.define(name, {kind: 'never'});
      await store.register(validated.value, ANONYMOUS, Date.now());
      env.fake.define(name, {kind: 'finish', afterMs: job.durationMs / factor});
      if (contender.events && events) {
        announcements.push(
          setTimeout(() => events.announce(name), job.durationMs / factor),
        );
      }
      doneAt.set(
        `${contender.key}/${index}`,
        Date.now() + job.durationMs / factor,
      );
    }),
  );

  // Cloud Scheduler: a tick every 60 s / F. A slot that comes while the last tick still works is skipped, as the
  // held lease would make that tick stand down: compressed, overlapping ticks would only contend for the lease.
  let ticks = 0;
  let stopped = false;
  const tickErrors: string[] = [];
  const period = DEFAULT_TIMING.tickEveryMs / factor;
  const scheduler = (async () => {
    for (let slot = 0; !stopped; slot++) {
      const at = start + slot * period;
      if (Date.now() > at) continue;
      await sleep(at - Date.now());
      if (stopped) break;
      ticks++;
      await poller.tick().catch((error: Error) => {
        tickErrors.push(error.message);
      });
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
        delayMs: (Date.parse(message.finishedAt) - doneAt.get(key)!) * factor,
        durationMs: jobs[Number(message.labels.job)].durationMs,
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
    queryMs: mean(queryMs),
    pollMs: mean(pollMs),
    rows,
    missing: expected - seen.size,
    duplicated: messages.size - seen.size,
    duplicates,
  };
}
