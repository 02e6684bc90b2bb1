/**
 * A workload for real: the same jobs for every contender, side by side on the emulators and the fake operations
 * API, with time compressed by a factor F, then set beside the simulation of the same jobs.
 *
 * Each contender has its own state. An opwatch contender is a deployment of its own (real-rig.ts: its collection,
 * lease, learned durations, topic; the real validation, store, tick wake and poller on a clock F times faster,
 * clock.ts); a peer is one client loop per operation in this process (client-loop.ts). Every operation is its own
 * in the fake API, started when its contender registers it and answered as the simulation does (`operationAt`).
 * One definition of delay for all: from the moment the operation was done to Pub/Sub accepting its notification.
 * What cannot be compressed (a Firestore round trip, a publish, an HTTP request's own overhead) is stretched by F
 * on that clock, for every contender alike, and the page query and poll are timed and reported.
 */
import type {NotificationPayload} from '../functions/notify/notification';
import {ANONYMOUS} from '../functions/core/model';
import {validateRegistration} from '../functions/registration/validation';
import {bootstrapInterval, type Interval} from './ci';
import {compressedClock, type CompressedClock} from './clock';
import {startClientLoops, type ClientLoops} from './client-loop';
import type {Contender} from './contenders';
import type {BenchEnv} from './env';
import {FIGURES, type FigureKey} from './evaluation';
import {operationAt, type Job} from './jobs';
import {seeded} from './prng';
import {setUp, type RealRunOptions, type Rig, type Ticks} from './real-rig';
import {operationName} from './seed';
import {
  figures,
  simulate,
  type Figures,
  type Timing,
  type Watched,
} from './simulate';
import {mean} from './stats';
import {pullMessages} from './support';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * One contender's figures in the real run, with intervals over its operations, and the simulation's of the same
 * jobs: as modelled, and with the run's measured round trips stretched by the factor, as the run's clock saw them.
 */
export interface RealRow {
  contender: Contender;
  real: Figures;
  intervals: Record<FigureKey, Interval>;
  simulated: Figures;
  simulatedMeasured: Figures;
  /** Operations never notified, and notifications beyond the first of one registration. */
  missing: number;
  duplicated: number;
}

/** What the compressed run found. */
export interface RealRun {
  factor: number;
  jobsPerContender: number;
  windowMs: number;
  wallMs: number;
  /** Scheduled and woken ticks, summed over the opwatch contenders. */
  ticks: number;
  wakes: number;
  /** Mean page query, poll and publish of the opwatch contenders, real milliseconds. */
  queryMs: number;
  pollMs: number;
  publishMs: number;
  rows: RealRow[];
}

/** A contender's watches in the run: a deployment of opwatch, or a peer's client loops. */
type Runner = {contender: Contender} & (
  {rig: Rig} | {loops: ClientLoops; doneAt: Map<number, number>}
);

/** Runs `options.contenders` side by side on `options.jobs`, each with its own state. */
export async function realRun(
  env: BenchEnv,
  options: RealRunOptions,
): Promise<RealRun> {
  const clock = compressedClock(options.factor);
  env.fake.reset();
  env.fake.setLatency(options.latencyMs / options.factor);
  const runners: Runner[] = [];
  for (const [i, contender] of options.contenders.entries())
    runners.push(
      contender.runtime === 'opwatch'
        ? {contender, rig: await warmedUp(env, options, contender, clock)}
        : {
            contender,
            loops: await startClientLoops(
              env,
              contender,
              clock,
              options.seed + i,
            ),
            doneAt: new Map(),
          },
    );
  const start = Date.now() + 1000;
  const periodMs = options.timing.tickEveryMs / options.factor;
  const schedulers = runners.flatMap(r =>
    'rig' in r ? [startScheduler(r.rig.ticks, start, periodMs)] : [],
  );
  try {
    await Promise.all(
      runners.flatMap(runner =>
        options.jobs.map((job, index) =>
          startJob(env, runner, clock, {start, job, index}),
        ),
      ),
    );
    await settle(runners, options, start);
  } finally {
    await Promise.all(schedulers.map(s => s.stop()));
  }
  const rigs = runners.flatMap(r => ('rig' in r ? [r.rig] : []));
  const measured = {
    queryMs: mean(rigs.flatMap(rig => rig.queryMs)),
    pollMs: mean(rigs.flatMap(rig => rig.pollMs)),
    publishMs: mean(rigs.flatMap(rig => rig.publishMs)),
  };
  // As the run's clock saw them: every round trip stretched by the factor.
  const measuredTiming: Timing = {
    ...options.timing,
    firestoreMs: measured.queryMs * options.factor,
    latencyMs: measured.pollMs * options.factor,
    publishMs: measured.publishMs * options.factor,
  };
  const rows = await Promise.all(
    runners.map((runner, i) => summarise(runner, options, i, measuredTiming)),
  );
  await Promise.all(runners.map(tearDown));
  return {
    factor: options.factor,
    jobsPerContender: options.jobs.length,
    windowMs: options.windowMs,
    wallMs: Date.now() - start,
    ticks: rigs.reduce((sum, rig) => sum + rig.ticks.scheduled, 0),
    wakes: rigs.reduce((sum, rig) => sum + rig.ticks.woken, 0),
    ...measured,
    rows,
  };
}

/** An opwatch contender's rig, warmed up (token, channels, connections): compression magnifies a cold start. */
async function warmedUp(
  env: BenchEnv,
  options: RealRunOptions,
  contender: Contender,
  clock: CompressedClock,
): Promise<Rig> {
  const rig = await setUp(env, options, contender, clock);
  const name = operationName(`warm-${contender.key}`, 0);
  env.fake.define(name, {kind: 'finish', afterMs: 0});
  const warm = validateRegistration(
    {operation: `https://${rig.service}/v1/${name}`},
    rig.context,
  );
  if (warm.ok) await rig.store.register(warm.value, ANONYMOUS, clock.now());
  await rig.poller.tick();
  await pullMessages(rig.subscription, {count: 1, timeoutMs: 5000});
  rig.acceptedAt.clear();
  return rig;
}

/**
 * At `job`'s arrival, starts its operation in the fake API and hands it to `runner`: registered through the real
 * validation, store and tick wake for opwatch, a loop of its own for a peer.
 */
async function startJob(
  env: BenchEnv,
  runner: Runner,
  clock: CompressedClock,
  {start, job, index}: {start: number; job: Job; index: number},
): Promise<void> {
  const factor = clock.factor;
  await sleep(start + job.arrivalMs / factor - Date.now());
  const {contender} = runner;
  const name = operationName(`real-${contender.key}`, index);
  const started = {...job, arrivalMs: clock.now()};
  env.fake.define(name, {
    kind: 'computed',
    operation: wallMs => operationAt(started, clock.at(wallMs)),
  });
  const doneAt = started.arrivalMs + job.durationMs;
  if (!('rig' in runner)) {
    runner.doneAt.set(index, doneAt);
    runner.loops.watch(index, name);
    return;
  }
  const {rig} = runner;
  rig.doneAt.set(index, doneAt);
  const validated = validateRegistration(
    {
      operation: `https://${rig.service}/v1/${name}`,
      labels: {contender: contender.key, job: String(index)},
    },
    rig.context,
  );
  if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
  if ('policy' in contender.schedule)
    validated.value.pollPolicy = contender.schedule.policy;
  const {registration} = await rig.store.register(
    validated.value,
    ANONYMOUS,
    started.arrivalMs,
  );
  await rig.wake.registered(registration.id);
  if (contender.events && rig.events) {
    const events = rig.events;
    rig.announcements.push(
      setTimeout(() => events.announce(name), job.durationMs / factor),
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

/** Waits until every contender has published for every job, or well after the last job is done. */
async function settle(
  runners: readonly Runner[],
  options: RealRunOptions,
  start: number,
): Promise<void> {
  const {jobs, factor} = options;
  const lastDone =
    Math.max(...jobs.map(job => job.arrivalMs + job.durationMs)) / factor;
  const giveUpAt = start + lastDone + (5 * options.timing.tickEveryMs) / factor;
  const published = (runner: Runner) =>
    'rig' in runner ? runner.rig.acceptedAt.size : runner.loops.ends.length;
  let reported = 0;
  for (;;) {
    const done = runners.reduce((sum, r) => sum + published(r), 0);
    const expected = runners.length * jobs.length;
    if (done >= expected || Date.now() > giveUpAt) return;
    if (done - reported >= expected / 10) {
      reported = done;
      options.log(`${done}/${expected} notified`);
    }
    await sleep(200);
  }
}

/** A contender's watches as the figures read them: polls, and delay to Pub/Sub's acceptance. */
async function watchedOf(
  runner: Runner,
  jobs: readonly Job[],
): Promise<{watched: Watched[]; duplicated: number}> {
  const of = (index: number, polls: number, delayMs: number): Watched => ({
    polls,
    delayMs,
    durationMs: jobs[index].durationMs,
    warmUp: jobs[index].warmUp,
  });
  if (!('rig' in runner)) {
    const watched = runner.loops.ends.map(end =>
      of(end.index, end.polls, end.acceptedAt - runner.doneAt.get(end.index)!),
    );
    return {watched, duplicated: 0};
  }
  const {rig} = runner;
  const pulled = await pullMessages(rig.subscription, {
    count: rig.acceptedAt.size,
    timeoutMs: 10_000,
  });
  const first = new Map<string, NotificationPayload>();
  const ids = new Set<string>();
  for (const {id, attributes, data} of pulled) {
    // The warm-up's registration has no job; a late copy of its notification is not the run's.
    if ((data as NotificationPayload).labels.job === undefined) continue;
    ids.add(id);
    if (!first.has(attributes.registrationId))
      first.set(attributes.registrationId, data as NotificationPayload);
  }
  const watched = [...first].flatMap(([registrationId, message]) => {
    const index = Number(message.labels.job);
    const accepted = rig.acceptedAt.get(registrationId);
    return accepted === undefined
      ? []
      : [of(index, message.attempts, accepted - rig.doneAt.get(index)!)];
  });
  return {watched, duplicated: ids.size - first.size};
}

/** A contender's row: its real figures with bootstrap intervals, and its simulations on the same jobs. */
async function summarise(
  runner: Runner,
  options: RealRunOptions,
  i: number,
  measuredTiming: Timing,
): Promise<RealRow> {
  const {contender} = runner;
  const {watched, duplicated} = await watchedOf(runner, options.jobs);
  const counted = watched.filter(w => !w.warmUp);
  const intervals = Object.fromEntries(
    FIGURES.map(key => [
      key,
      bootstrapInterval(counted, sample => figures(sample)[key]),
    ]),
  ) as unknown as Record<FigureKey, Interval>;
  const simulated = (timing: Timing) =>
    figures(
      simulate(contender, options.jobs, timing, seeded(options.seed + i)),
    );
  return {
    contender,
    real: figures(watched),
    intervals,
    simulated: simulated(options.timing),
    simulatedMeasured: simulated(measuredTiming),
    missing: options.jobs.length - watched.length,
    duplicated,
  };
}

/** Lets the ticks still running end, then stops and deletes what the run made. */
async function tearDown(runner: Runner): Promise<void> {
  if (!('rig' in runner)) return runner.loops.stop();
  const {rig} = runner;
  await sleep(10);
  await Promise.all(rig.ticks.running);
  for (const timer of rig.announcements) clearTimeout(timer);
  await rig.events?.stop();
  await rig.publisherClient.close();
  await rig.subscription.delete();
  await rig.topic.delete();
}
