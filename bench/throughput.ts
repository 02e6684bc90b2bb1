/**
 * Stage 2: one tick of the real `poll` function (Functions Framework, its own process) over N registrations all
 * due now, each answering done after the fake API's latency: polls per second, Firestore reads and writes per
 * poll (counted in the process by bench/probe.ts), publishes per finished operation (every message pulled back),
 * and the process's peak resident memory.
 */
import {measureCpu, type CpuUse} from './cpu';
import {PROJECT, uniqueName, type BenchEnv} from './env';
import type {ProbeReport} from './probe';
import {operationName, seed} from './seed';
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
  const prefix = collection;
  for (let i = 0; i < registrations; i++)
    env.fake.define(operationName(prefix, i), {kind: 'finish', afterMs: 0});
  const now = Date.now();
  const seedMs = await seed(env.firestore, {
    collection,
    topic: `projects/${PROJECT}/topics/${topicId}`,
    prefix,
    count: registrations,
    dueAt: () => now,
  });
  options.log(
    `seeded ${registrations} registrations in ${(seedMs / 1000).toFixed(1)} s; ticking at concurrency ${concurrency}`,
  );

  const child = await env.startFunction(
    'poll',
    {
      OPERATIONS_COLLECTION: collection,
      POLL_CONCURRENCY: String(concurrency),
      POLL_BUDGET_SECONDS: String(options.budgetSeconds),
    },
    true,
  );
  const stopCpu = measureCpu(
    new Map([
      ...env.emulatorPids,
      ['poll function', child.pid],
      ['bench (fake API)', process.pid],
    ]),
  );
  const response = await fetch(child.url, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: '{}',
  });
  const counts = (await response.json()) as TickCounts;
  const cpu = stopCpu();
  const probe = (await child.stop())!;
  if (!response.ok) throw new Error(`tick failed: ${JSON.stringify(counts)}`);

  let publishes: TickMeasurement['publishes'];
  if (subscription) {
    const messages = await pullMessages(subscription, {
      count: counts.succeeded,
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
    publishes = {
      pulled: messages.length,
      once: tally.filter(n => n === 1).length,
      twice: tally.filter(n => n > 1).length,
      missing: counts.succeeded - perOperation.size,
    };
    await subscription.delete();
  }
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
