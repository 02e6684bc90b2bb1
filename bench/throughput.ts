/**
 * Stage 2: one tick of the real `poll` function (Functions Framework, its own process) over N registrations all
 * due now, each answering done after the fake API's latency: polls per second, Firestore reads and writes per
 * poll (counted in the process by bench/probe.ts), publishes per finished operation (every message pulled back),
 * and the process's peak resident memory.
 */
import type {Subscription} from '@google-cloud/pubsub';
import type {CpuUse} from './cpu';
import {measurePollCpu, sendTick, uniqueName, type BenchEnv} from './env';
import type {ProbeReport} from './probe';
import {seedFinishingNow} from './seed';
import {pullMessages} from './support';

/** The poll function's answer: the tick's counts. */
interface TickCounts {
  polled: number;
  succeeded: number;
  published: number;
  durationMs: number;
  leaseHeld?: boolean;
}

/** One measured tick. */
export interface TickMeasurement {
  registrations: number;
  concurrency: number;
  budgetSeconds: number;
  seedMs: number;
  counts: TickCounts;
  pollsPerSecond: number;
  readsPerPoll: number;
  writesPerPoll: number;
  probe: ProbeReport;
  cpu: CpuUse;
  /** Messages pulled back, when checked: finished operations published once, more than once, never. */
  publishes?: {pulled: number; once: number; twice: number; missing: number};
}

/** Seeds `registrations` due now and runs one tick over them. */
export async function measureTick(
  env: BenchEnv,
  options: {
    registrations: number;
    concurrency: number;
    budgetSeconds: number;
    checkPublishes: boolean;
    log: (line: string) => void;
  },
): Promise<TickMeasurement> {
  const {registrations, concurrency} = options;
  await env.clearFirestore();
  env.fake.reset();
  const collection = uniqueName('bench-tick');
  const topicId = uniqueName('bench-tick');
  const [topic] = await env.pubsub.createTopic(topicId);
  const [subscription] = options.checkPublishes
    ? await topic.createSubscription(`${topicId}-sub`)
    : [undefined];
  const seedMs = await seedFinishingNow(env, {
    collection,
    topicId,
    prefix: collection,
    count: registrations,
  });
  options.log(
    `seeded ${registrations} registrations in ${(seedMs / 1000).toFixed(1)} s; ticking at concurrency ${concurrency}`,
  );
  const {counts, probe, cpu} = await tickOnce(env, collection, options);
  const publishes =
    subscription && (await countPublishes(subscription, counts.succeeded));
  await subscription?.delete();
  await topic.delete();
  return {
    registrations,
    concurrency,
    budgetSeconds: options.budgetSeconds,
    seedMs,
    counts,
    pollsPerSecond: counts.polled / (counts.durationMs / 1000),
    readsPerPoll: probe.reads / counts.polled,
    writesPerPoll: probe.writes / counts.polled,
    probe,
    cpu,
    publishes,
  };
}

/** One tick of a `poll` process of its own over `collection`, with its counts, the probe's report and the CPU used. */
async function tickOnce(
  env: BenchEnv,
  collection: string,
  options: {concurrency: number; budgetSeconds: number},
): Promise<{counts: TickCounts; probe: ProbeReport; cpu: CpuUse}> {
  const child = await env.startFunction(
    'poll',
    {
      OPERATIONS_COLLECTION: collection,
      POLL_CONCURRENCY: String(options.concurrency),
      POLL_BUDGET_SECONDS: String(options.budgetSeconds),
    },
    true,
  );
  const stopCpu = measurePollCpu(env, child);
  const {ok, counts} = await sendTick<TickCounts>(child);
  const cpu = stopCpu();
  const probe = (await child.stop())!;
  if (!ok) throw new Error(`tick failed: ${JSON.stringify(counts)}`);
  return {counts, probe, cpu};
}

/** Pulls back what the tick published: per registration, how many distinct messages. */
async function countPublishes(
  subscription: Subscription,
  succeeded: number,
): Promise<NonNullable<TickMeasurement['publishes']>> {
  const messages = await pullMessages(subscription, {
    count: succeeded,
    timeoutMs: 60_000,
  });
  // One more short pull: a duplicate would be beyond the count asked for.
  messages.push(
    ...(await pullMessages(subscription, {count: 1000, timeoutMs: 2000})),
  );
  // Distinct message ids per registration: a redelivery is not a second publish.
  const perOperation = new Map<string, Set<string>>();
  for (const {attributes, id} of messages) {
    const ids = perOperation.get(attributes.registrationId) ?? new Set();
    perOperation.set(attributes.registrationId, ids.add(id));
  }
  const tally = [...perOperation.values()].map(ids => ids.size);
  return {
    pulled: messages.length,
    once: tally.filter(n => n === 1).length,
    twice: tally.filter(n => n > 1).length,
    missing: succeeded - perOperation.size,
  };
}
