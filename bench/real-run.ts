/**
 * A workload for real: the jobs through the real poller, the real emulators and the fake operations API, with time
 * compressed by a factor F, then set beside the simulation of the same jobs.
 *
 * Registrations go through the real validation and store, then the real tick wake (functions/polling/tick-wake.ts),
 * whose wake runs a tick here after the simulation's `wakeDelayMs` (compressed, as the API's latency is) instead
 * of going through Pub/Sub's push; the poller is functions/polling/poller.ts wired as functions/index.ts wires it
 * (real-rig.ts: the forecaster and the learned durations included), on a clock running F times faster (clock.ts):
 * its settings and every policy stay as deployed, Cloud Scheduler's period and the operations' durations are
 * divided by F, and the fake API answers each operation as the simulation does (`operationAt`). What cannot be
 * compressed (a Firestore round trip, an HTTP request's own overhead) is measured and reported, and the simulation
 * is re-run with it.
 */
import {ANONYMOUS} from '../functions/core/model';
import type {NotificationPayload} from '../functions/notify/notification';
import {validateRegistration} from '../functions/registration/validation';
import type {Contender} from './contenders';
import type {BenchEnv} from './env';
import {seeded} from './prng';
import {setUp, type RealRunOptions, type Rig, type Ticks} from './real-rig';
import {operationName} from './seed';
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

/** Runs `contenders` (all with a policy) side by side on the same jobs, each with its own registrations. */
export async function realRun(
  env: BenchEnv,
  options: RealRunOptions,
): Promise<RealRun> {
  const rig = await setUp(env, options);
  await warmUp(rig);
  const start = Date.now() + 1000;
  const registrations = options.contenders.flatMap(contender =>
    options.jobs.map((job, index) =>
      registerJob(rig, start, contender, job, index),
    ),
  );
  const scheduler = startScheduler(
    rig.ticks,
    start,
    DEFAULT_TIMING.tickEveryMs / options.factor,
  );
  const expected = options.jobs.length * options.contenders.length;
  let messages: Map<string, NotificationPayload>;
  try {
    await Promise.all(registrations);
    messages = await collectNotifications(rig, start, expected);
  } finally {
    await scheduler.stop();
    await tearDown(rig);
  }
  if (rig.ticks.errors.length)
    options.log(`tick errors: ${rig.ticks.errors.slice(0, 3).join('; ')}`);
  return summarise(rig, messages, {start, expected});
}

/** Warms up (token, channels, connections) so the first ticks are not cold starts, which compression magnifies. */
async function warmUp({
  env,
  service,
  context,
  store,
  clock,
  poller,
  subscription,
}: Rig): Promise<void> {
  const name = operationName('real-warm-up', 0);
  env.fake.define(name, {kind: 'finish', afterMs: 0});
  const warm = validateRegistration(
    {operation: `https://${service}/v1/${name}`},
    context,
  );
  if (warm.ok) await store.register(warm.value, ANONYMOUS, clock.now());
  await poller.tick();
  await pullMessages(subscription, {count: 1, timeoutMs: 5000});
}

/**
 * Registers `contender`'s watch of `job` at its arrival, through the real validation, store and tick wake; the
 * operation starts then, and the fake answers it as the simulation would.
 */
async function registerJob(
  rig: Rig,
  start: number,
  contender: Contender,
  job: Job,
  index: number,
): Promise<void> {
  const {env, options, service, clock, events} = rig;
  await sleep(start + job.arrivalMs / options.factor - Date.now());
  const name = operationName(`real-${contender.key}`, index);
  const policy =
    'policy' in contender.schedule ? contender.schedule.policy : undefined;
  const validated = validateRegistration(
    {
      operation: `https://${service}/v1/${name}`,
      labels: {contender: contender.key, job: String(index)},
    },
    rig.context,
  );
  if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
  if (policy) validated.value.pollPolicy = policy;
  const startedAt = clock.now();
  const started = {...job, arrivalMs: startedAt};
  env.fake.define(name, {
    kind: 'computed',
    operation: wallMs => operationAt(started, clock.at(wallMs)),
  });
  rig.doneAt.set(`${contender.key}/${index}`, startedAt + job.durationMs);
  const {registration} = await rig.store.register(
    validated.value,
    ANONYMOUS,
    startedAt,
  );
  await rig.wake.registered(registration.id);
  if (contender.events && events) {
    rig.announcements.push(
      setTimeout(() => events.announce(name), job.durationMs / options.factor),
    );
  }
}

/**
 * Cloud Scheduler: a tick every `periodMs` from `start`, whether or not the last one is still at work; with the
 * budget equal to the period, each waits for the one before to hand the lease over, as deployed.
 */
function startScheduler(
  ticks: Ticks,
  start: number,
  periodMs: number,
): {stop(): Promise<void>} {
  let stopped = false;
  const scheduling = (async () => {
    for (let slot = 0; !stopped; slot++) {
      await sleep(start + slot * periodMs - Date.now());
      if (stopped) break;
      ticks.scheduled++;
      ticks.start('scheduler');
    }
  })();
  return {
    async stop() {
      stopped = true;
      await scheduling;
    },
  };
}

/** Pulls the notifications until all `expected` registrations are notified, or well after the last job is done. */
async function collectNotifications(
  {options, subscription}: Rig,
  start: number,
  expected: number,
): Promise<Map<string, NotificationPayload>> {
  const {jobs, factor} = options;
  const lastDone =
    Math.max(...jobs.map(job => job.arrivalMs + job.durationMs)) / factor;
  const giveUpAt = start + lastDone + (5 * DEFAULT_TIMING.tickEveryMs) / factor;
  const messages = new Map<string, NotificationPayload>();
  const notified = new Set<string>();
  let reported = 0;
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
  return messages;
}

/** Lets the ticks still running end, then stops and deletes what the run made. */
async function tearDown(rig: Rig): Promise<void> {
  // Wakes sent just now start their ticks within wakeDelayMs / F.
  await sleep(DEFAULT_TIMING.wakeDelayMs / rig.options.factor + 10);
  await Promise.all(rig.ticks.running);
  for (const timer of rig.announcements) clearTimeout(timer);
  await rig.events?.stop();
  await rig.publisherClient.close();
  await rig.subscription.delete();
  await rig.topic.delete();
}

/** The run's figures, each contender's beside its simulation on the same jobs. */
function summarise(
  rig: Rig,
  messages: ReadonlyMap<string, NotificationPayload>,
  {start, expected}: {start: number; expected: number},
): RealRun {
  const {options, queryMs, pollMs} = rig;
  const {first, duplicates} = firstNotifications(messages);
  const seen = new Map<string, Watched>(
    [...first].map(([key, message]) => [
      key,
      {
        polls: message.attempts,
        delayMs: Date.parse(message.finishedAt) - rig.doneAt.get(key)!,
        durationMs: options.jobs[Number(message.labels.job)].durationMs,
        warmUp: options.jobs[Number(message.labels.job)].warmUp,
      },
    ]),
  );
  const rows = compareRows(rig, seen);
  return {
    factor: options.factor,
    jobsPerContender: options.jobs.length,
    windowMs: options.windowMs,
    wallMs: Date.now() - start,
    ticks: rig.ticks.scheduled,
    wakes: rig.ticks.woken,
    queryMs: mean(queryMs),
    pollMs: mean(pollMs),
    rows,
    missing: expected - seen.size,
    duplicated: messages.size - seen.size,
    duplicates,
  };
}

/** The first notification of each registration, which counts; any other is classified. */
function firstNotifications(
  messages: ReadonlyMap<string, NotificationPayload>,
): {
  first: Map<string, NotificationPayload>;
  duplicates: RealRun['duplicates'];
} {
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
  return {first, duplicates};
}

/** Each contender's real figures beside its simulation, as modelled and with the overheads the run measured. */
function compareRows(
  {options, queryMs, pollMs}: Rig,
  seen: ReadonlyMap<string, Watched>,
): RealRow[] {
  const {factor, jobs} = options;
  const measured: Timing = {
    ...DEFAULT_TIMING,
    ...(queryMs.length && {firestoreMs: mean(queryMs) * factor}),
    ...(pollMs.length && {latencyMs: mean(pollMs) * factor}),
  };
  return options.contenders.map((contender, i) => {
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
}
