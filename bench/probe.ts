/**
 * Preloaded into a function process by the benchmark (NODE_OPTIONS=--require): counts the Firestore reads and
 * writes the process asks for, as Firestore bills them (a query reads its documents, at least 1; a document get
 * reads 1; every create, set, update or delete is a write), and at exit writes them, with the process's peak
 * resident memory and CPU time, to the JSON file named by BENCH_PROBE_FILE.
 *
 * It wraps the client's public methods: Query.get and BulkWriter's writes (the poller's registration reads and
 * writes), and single-document and transaction gets and writes (in the poller, only its lease's); nothing else in
 * the process changes.
 */
import {
  BulkWriter,
  DocumentReference,
  Query,
  QuerySnapshot,
  Transaction,
} from '@google-cloud/firestore';
import {readFileSync, writeFileSync} from 'node:fs';

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
  /** The heap still in use at exit after a full garbage collection: what the process retained. */
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

function countRead(result: unknown): number {
  const reads = result instanceof QuerySnapshot ? Math.max(1, result.size) : 1;
  report.reads += reads;
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
      report.queryMs += performance.now() - began;
      report.queries++;
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
        report.documentReads += countRead(result);
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
          report.writes++;
          if (prototype !== BulkWriter.prototype) report.documentWrites++;
          return original.apply(this, args);
        },
    );
  }
}

process.on('exit', () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  report.peakRssKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  // --expose-gc comes with the probe (see bench/env.ts).
  (globalThis as {gc?: () => void}).gc?.();
  report.heapAfterGcKb = process.memoryUsage().heapUsed / 1024;
  const cpu = process.cpuUsage();
  report.cpuMs = (cpu.user + cpu.system) / 1000;
  const file = process.env.BENCH_PROBE_FILE;
  if (file) writeFileSync(file, JSON.stringify(report));
});
