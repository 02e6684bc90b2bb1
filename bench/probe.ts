/**
 * Preloaded into a function process by the benchmark (NODE_OPTIONS=--require): counts the Firestore reads and
 * writes the process asks for, as Firestore bills them (a query reads its documents, at least 1; a document get
 * reads 1; every create, set, update or delete is a write), and at exit writes them, with the process's peak
 * resident memory and CPU time, to the JSON file named by BENCH_PROBE_FILE.
 *
 * It wraps the client's public methods: Query.get and BulkWriter's writes (the poller's registration reads and
 * writes), and single-document and transaction gets and writes (in the poller, its lease's and the learned
 * durations'); nothing else in the process changes. Preloaded, it runs in every thread: the poll function works on
 * a worker thread (functions/polling/tick-thread.ts), so every thread counts into one shared buffer, which the main
 * thread reports at exit.
 */
import {
  BulkWriter,
  DocumentReference,
  Query,
  QuerySnapshot,
  Transaction,
} from '@google-cloud/firestore';
import {readFileSync, writeFileSync} from 'node:fs';
import {
  BroadcastChannel,
  getEnvironmentData,
  isMainThread,
  setEnvironmentData,
} from 'node:worker_threads';

/** What the probe reports. */
export interface ProbeReport {
  reads: number;
  writes: number;
  /** Of which single-document or in transactions: in the poller, the lease's. */
  documentReads: number;
  documentWrites: number;
  queries: number;
  /** Total time spent in Query.get, for the mean query latency. */
  queryMs: number;
  /** VmHWM: the peak resident set size over the process's life. */
  peakRssKb: number;
  /** The heap still in use at exit after a full garbage collection, every thread's: what the process retained. */
  heapAfterGcKb: number;
  cpuMs: number;
}

const report: ProbeReport = {
  reads: 0,
  writes: 0,
  documentReads: 0,
  documentWrites: 0,
  queries: 0,
  queryMs: 0,
  peakRssKb: 0,
  heapAfterGcKb: 0,
  cpuMs: 0,
};

/** The counts every thread adds to, in this order; queryMs in microseconds. */
const COUNTED = [
  'reads',
  'writes',
  'documentReads',
  'documentWrites',
  'queries',
  'queryMs',
  // Worker threads started, and those that have reported their heap after a full collection, in bytes.
  'threads',
  'heapReports',
  'heapBytes',
] as const;
const SHARED_KEY = 'opwatch-bench-probe';
if (isMainThread)
  setEnvironmentData(
    SHARED_KEY,
    new SharedArrayBuffer(COUNTED.length * BigInt64Array.BYTES_PER_ELEMENT),
  );
const counts = new BigInt64Array(
  getEnvironmentData(SHARED_KEY) as SharedArrayBuffer,
);

function count(what: (typeof COUNTED)[number], amount: number): void {
  Atomics.add(counts, COUNTED.indexOf(what), BigInt(Math.round(amount)));
}

const read = (what: (typeof COUNTED)[number]) =>
  Number(Atomics.load(counts, COUNTED.indexOf(what)));

/** The heap in use after a full collection (--expose-gc comes with the probe, see bench/env.ts). */
function heapAfterGc(): number {
  (globalThis as {gc?: () => void}).gc?.();
  return process.memoryUsage().heapUsed;
}

/** At the main thread's exit, each worker thread (still running then) reports its heap. */
const heapChannel = new BroadcastChannel(SHARED_KEY);
heapChannel.unref();
if (!isMainThread) {
  count('threads', 1);
  heapChannel.onmessage = () => {
    count('heapBytes', heapAfterGc());
    count('heapReports', 1);
    Atomics.notify(counts, COUNTED.indexOf('heapReports'));
  };
}

/** Every worker thread's heap after a full collection, waiting up to a second for their reports. */
function workerHeaps(): number {
  const threads = read('threads');
  if (threads === 0) return 0;
  heapChannel.postMessage('report');
  const until = Date.now() + 1000;
  for (let reports = read('heapReports'); reports < threads;) {
    const left = until - Date.now();
    if (left <= 0) break;
    Atomics.wait(counts, COUNTED.indexOf('heapReports'), BigInt(reports), left);
    reports = read('heapReports');
  }
  return read('heapBytes');
}

function countRead(result: unknown): number {
  const reads = result instanceof QuerySnapshot ? Math.max(1, result.size) : 1;
  count('reads', reads);
  return reads;
}

type Method = (...args: unknown[]) => unknown;

function wrap(
  prototype: object,
  name: string,
  around: (original: Method) => Method,
): void {
  const methods = prototype as Record<string, Method>;
  methods[name] = around(methods[name]);
}

wrap(
  Query.prototype,
  'get',
  original =>
    async function (this: unknown, ...args: unknown[]) {
      const began = performance.now();
      const snapshot = await original.apply(this, args);
      count('queryMs', 1000 * (performance.now() - began));
      count('queries', 1);
      countRead(snapshot);
      return snapshot;
    },
);
const single = [DocumentReference.prototype, Transaction.prototype];
for (const prototype of single) {
  wrap(
    prototype,
    'get',
    original =>
      async function (this: unknown, ...args: unknown[]) {
        const result = await original.apply(this, args);
        count('documentReads', countRead(result));
        return result;
      },
  );
}
for (const prototype of [...single, BulkWriter.prototype]) {
  for (const name of ['create', 'set', 'update', 'delete']) {
    wrap(
      prototype,
      name,
      original =>
        function (this: unknown, ...args: unknown[]) {
          count('writes', 1);
          if (prototype !== BulkWriter.prototype) count('documentWrites', 1);
          return original.apply(this, args);
        },
    );
  }
}

process.on('exit', () => {
  if (!isMainThread) return;
  const heapBytes = heapAfterGc() + workerHeaps();
  for (const what of [
    'reads',
    'writes',
    'documentReads',
    'documentWrites',
    'queries',
  ] as const)
    report[what] = read(what);
  report.queryMs = read('queryMs') / 1000;
  report.heapAfterGcKb = heapBytes / 1024;
  const status = readFileSync('/proc/self/status', 'utf8');
  report.peakRssKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const cpu = process.cpuUsage();
  report.cpuMs = (cpu.user + cpu.system) / 1000;
  const file = process.env.BENCH_PROBE_FILE;
  if (file) writeFileSync(file, JSON.stringify(report));
});
