/**
 * Stage 3: `POST /operations` under load, with autocannon, against the real `operations` function (Functions
 * Framework, its own process) on the Firestore emulator. Every request registers a different operation. As
 * deployed, the function wakes ticks over a fan-out topic (functions/polling/tick-wake.ts): no tick runs here, so
 * it reads the lease once per batch of creates and publishes a wake once per 15 s.
 */
import autocannon from 'autocannon';
import {measureCpu, type CpuUse} from './cpu';
import {SERVICE, uniqueName, type BenchEnv} from './env';
import {operationName} from './seed';

/** One autocannon run. */
export interface LoadResult {
  connections: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  created: number;
  non2xx: number;
  errors: number;
  cpu: CpuUse;
}

/** Loads the registration API with each number of connections in turn. */
export async function measureRegistration(
  env: BenchEnv,
  options: {
    connections: readonly number[];
    durationSeconds: number;
    log: (line: string) => void;
  },
): Promise<LoadResult[]> {
  await env.clearFirestore();
  const collection = uniqueName('bench-reg');
  const [fanout] = await env.pubsub.createTopic(uniqueName('bench-wake'));
  const child = await env.startFunction('operations', {
    OPERATIONS_COLLECTION: collection,
    DEFAULT_TOPIC: 'opwatch-bench',
    // Every request is the anonymous owner's: a bound this owner never nears stands for the many owners far from
    // theirs, whose registrations skip the count (functions/registration/pending-quota.ts).
    MAX_PENDING_PER_OWNER: String(10_000_000),
    POLL_FANOUT_TOPIC: fanout.name,
  });
  let serial = 0;
  const load = (connections: number, duration: number) =>
    autocannon({
      url: child.url,
      connections,
      duration,
      requests: [
        {
          method: 'POST',
          path: '/operations',
          headers: {'content-type': 'application/json'},
          setupRequest: request => ({
            ...request,
            body: JSON.stringify({
              operation: `https://${SERVICE}/v1/${operationName(collection, serial++)}`,
            }),
          }),
        },
      ],
    });
  const results: LoadResult[] = [];
  try {
    await load(4, 2); // warm-up: the handler is built on the first request
    for (const connections of options.connections) {
      const pids = new Map([
        ...env.emulatorPids,
        ['operations function', child.pid],
        ['bench (autocannon)', process.pid],
      ]);
      const stopCpu = measureCpu(pids);
      const result = await load(connections, options.durationSeconds);
      const cpu = stopCpu();
      results.push({
        connections,
        durationSeconds: options.durationSeconds,
        requestsPerSecond: result.requests.average,
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        created: result['2xx'],
        non2xx: result.non2xx,
        errors: result.errors,
        cpu,
      });
      options.log(
        `${connections} connections: ${result.requests.average} req/s, p99 ${result.latency.p99} ms`,
      );
    }
  } finally {
    await child.stop();
    await fanout.delete();
  }
  return results;
}
