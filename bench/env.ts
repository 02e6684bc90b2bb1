/**
 * What every stage runs on: the real Firestore and Pub/Sub emulators, the fake GCE metadata server (so
 * google-auth-library's real ADC path mints the poller's tokens), the fake Google operations API, and function
 * processes served by the real Functions Framework from the deploy artifact, as deployed; and what the stages do
 * with a `poll` process: send it a tick, and measure the CPU it used.
 */
import {Firestore} from '@google-cloud/firestore';
import {PubSub} from '@google-cloud/pubsub';
import {randomBytes} from 'node:crypto';
import {existsSync, mkdtempSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {
  assertEmulatorsInstalled,
  startFirestoreEmulator,
  startPubSubEmulator,
  type Emulator,
} from '../scripts/lib/emulators';
import {spawnFunction} from '../scripts/lib/function-process';
import {freePort} from '../scripts/lib/ports';
import {findPid, measureCpu, type CpuUse} from './cpu';
import type {ProbeReport} from './probe';
import {
  startFakeMetadata,
  startFakeOperations,
  type FakeOperationsServer,
} from './support';

/** dist/bench/ -> the deploy artifact (`npm run package`), whose package.json `main` registers the targets. */
const ARTIFACT = resolve(__dirname, '..', '..', 'build', 'function-source');
/** `demo-` project ids are never real ones: nothing here can reach Google Cloud. */
export const PROJECT = 'demo-opwatch';
/** The API host the fake operations server stands in for (through ENDPOINT_OVERRIDES). */
export const SERVICE = 'firestore.googleapis.com';

/** A running function process. */
export interface FunctionChild {
  url: string;
  /** Its process id (0 if not found), for CPU measurements. */
  pid: number;
  /** Stops the process; resolves with the probe's report when it was started with one. */
  stop(): Promise<ProbeReport | undefined>;
}

/** The shared environment of a benchmark run. */
export interface BenchEnv {
  firestore: Firestore;
  pubsub: PubSub;
  fake: FakeOperationsServer;
  /** Java processes of the emulators, for CPU measurements. */
  emulatorPids: Map<string, number>;
  /**
   * Starts a function target (`operations` or `poll`) with `env` added, optionally with the probe preloaded and
   * a V8 CPU profile written to `profileDir` at exit.
   */
  startFunction(
    target: string,
    env: Record<string, string>,
    probe?: boolean,
    profileDir?: string,
  ): Promise<FunctionChild>;
  /** Deletes every document in the Firestore emulator, so a stage does not pay for the last one's data. */
  clearFirestore(): Promise<void>;
  stop(): Promise<void>;
}

/** A name no other run uses, valid as a collection, topic or subscription id. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * Sends the `poll` process `child` one tick, with `body` as Cloud Scheduler (`{}`) or the fan-out's push
 * (`{"shard": k}`) sends it, and reads the counts it answers with.
 */
export async function sendTick<Counts>(
  child: FunctionChild,
  body: object = {},
): Promise<{ok: boolean; counts: Counts}> {
  const response = await fetch(child.url, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify(body),
  });
  return {ok: response.ok, counts: (await response.json()) as Counts};
}

/**
 * Starts measuring the CPU of what a one-process tick runs on: the emulators, the `poll` process `child`, and this
 * process, which serves the fake API. The returned function stops and reports.
 */
export function measurePollCpu(
  env: BenchEnv,
  child: FunctionChild,
): () => CpuUse {
  return measureCpu(
    new Map([
      ...env.emulatorPids,
      ['poll function', child.pid],
      ['bench (fake API)', process.pid],
    ]),
  );
}

/** Starts everything; `log` reports progress. */
export async function startEnv(
  latencyMs: number,
  log: (line: string) => void,
): Promise<BenchEnv> {
  await assertEmulatorsInstalled();
  log('starting the Firestore and Pub/Sub emulators...');
  const emulators: Emulator[] = await Promise.all([
    startFirestoreEmulator(),
    startPubSubEmulator({projectId: PROJECT}),
  ]);
  const [firestoreEmulator, pubsubEmulator] = emulators;
  const metadata = await startFakeMetadata(PROJECT);
  const uninstall = metadata.install();
  const fake = await startFakeOperations(latencyMs);
  Object.assign(process.env, {
    GOOGLE_CLOUD_PROJECT: PROJECT,
    FIRESTORE_EMULATOR_HOST: firestoreEmulator.host,
    PUBSUB_EMULATOR_HOST: pubsubEmulator.host,
  });
  const firestore = new Firestore({
    projectId: PROJECT,
    ignoreUndefinedProperties: true,
  });
  const pubsub = new PubSub({projectId: PROJECT});
  const probeDir = mkdtempSync(join(tmpdir(), 'opwatch-bench-'));
  const emulatorPids = emulatorProcesses(emulators);
  log(`emulators ready: ${emulators.map(e => e.host).join(', ')}`);

  return {
    firestore,
    pubsub,
    fake,
    emulatorPids,
    startFunction: (target, env, probe = false, profileDir?: string) =>
      startFunctionProcess(fake.baseUrl, probeDir, {
        target,
        env,
        probe,
        profileDir,
      }),
    async clearFirestore() {
      const url = `http://${firestoreEmulator.host}/emulator/v1/projects/${PROJECT}/databases/(default)/documents`;
      const response = await fetch(url, {method: 'DELETE'});
      if (!response.ok)
        throw new Error(`clearing Firestore: HTTP ${response.status}`);
    },
    async stop() {
      await Promise.allSettled([
        fake.stop(),
        metadata.stop(),
        firestore.terminate(),
        pubsub.close(),
      ]);
      uninstall();
      await Promise.allSettled(emulators.map(emulator => emulator.stop()));
    },
  };
}

/** The emulators' Java processes by label, those that could be found. */
function emulatorProcesses(
  emulators: readonly Emulator[],
): Map<string, number> {
  const pids = new Map<string, number>();
  for (const emulator of emulators) {
    const pid = findPid('java', `--port=${emulator.port}`);
    if (pid !== undefined) pids.set(`${emulator.name} emulator`, pid);
  }
  return pids;
}

/**
 * A function target served from the deploy artifact on a free port, its Google API calls sent to the fake at
 * `fakeBaseUrl`; the probe, when asked for, reports into a file of `probeDir`.
 */
async function startFunctionProcess(
  fakeBaseUrl: string,
  probeDir: string,
  options: {
    target: string;
    env: Record<string, string>;
    probe: boolean;
    profileDir?: string;
  },
): Promise<FunctionChild> {
  const {target, probe, profileDir} = options;
  const port = await freePort();
  const probeFile = join(probeDir, `${target}-${port}.json`);
  const child = spawnFunction({
    source: ARTIFACT,
    target,
    port,
    env: {
      ...process.env,
      ENDPOINT_OVERRIDES: JSON.stringify({[SERVICE]: fakeBaseUrl}),
      // Nothing signs ID tokens here: every registration is the anonymous owner's.
      ALLOW_UNAUTHENTICATED: 'true',
      NODE_OPTIONS: [
        probe && `--expose-gc --require ${join(__dirname, 'probe.js')}`,
        profileDir && `--cpu-prof --cpu-prof-dir=${profileDir}`,
      ]
        .filter(Boolean)
        .join(' '),
      ...(probe && {BENCH_PROBE_FILE: probeFile}),
      ...options.env,
    },
  });
  await child.ready();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: findPid(process.execPath, `--port=${port}`) ?? 0,
    async stop() {
      await child.stop();
      if (!probe || !existsSync(probeFile)) return undefined;
      return JSON.parse(readFileSync(probeFile, 'utf8')) as ProbeReport;
    },
  };
}
