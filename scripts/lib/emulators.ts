/**
 * The real Firestore and Pub/Sub emulators of the installed Google Cloud CLI, started and stopped from Node.js.
 *
 * An {@link Emulator} keeps its port for life, so it can be stopped and started again at the same address: the
 * fault tests take Pub/Sub or Firestore away and bring it back while clients keep their `*_EMULATOR_HOST`. Neither
 * emulator persists anything, so a restart comes back empty (topics, subscriptions and documents are gone).
 *
 * Each emulator's output goes to a log file, not to our stdout; errors name the file and quote its last lines.
 */
import {appendFileSync, mkdtempSync, readFileSync} from 'node:fs';
import {get} from 'node:http';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {gcloudEnv} from './gcloud';
import {ExitStatus, ProcessGroup, spawnGroup} from './process-group';
import {LOOPBACK, assertPortFree, freePort} from './ports';

export {assertEmulatorsInstalled, INSTALL_HINT} from './gcloud';
export type {ExitStatus} from './process-group';

/** A local emulator at a fixed address that can be stopped and started again any number of times. */
export interface Emulator {
  /** `firestore` or `pubsub`. */
  readonly name: string;
  readonly port: number;
  /** `127.0.0.1:PORT`, the value for `FIRESTORE_EMULATOR_HOST` or `PUBSUB_EMULATOR_HOST`. */
  readonly host: string;
  /** Where the emulator's output goes, across restarts. */
  readonly logFile: string;
  readonly running: boolean;
  /** How long the last start took until the emulator answered, in milliseconds. */
  readonly lastStartupMs: number | undefined;
  /** Starts the emulator and resolves once it answers; does nothing when it is running. */
  start(): Promise<void>;
  /** Stops the emulator and every process it started; does nothing when it is stopped. */
  stop(): Promise<void>;
  /** Stops, waits `downtimeMs` (default 0), starts again on the same port. */
  restart(options?: {downtimeMs?: number}): Promise<void>;
}

/** Options shared by both emulators. */
export interface EmulatorOptions {
  /** Loopback port; a free one when omitted. */
  port?: number;
  /** How long to wait for the emulator to answer; 60 s by default. */
  readyTimeoutMs?: number;
  /** Directory for the log file; a fresh temporary directory when omitted. */
  logDir?: string;
  /** Called when the emulator exits without stop(): the caller's stack has lost a dependency. */
  onUnexpectedExit?: (status: ExitStatus) => void;
}

interface Spec {
  name: string;
  /** gcloud arguments for a given `host:port`. */
  args(hostPort: string): string[];
  /** What the caller can do about a busy port. */
  busyHint: string;
}

const LOG_TAIL_LINES = 30;
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

let defaultLogDir: string | undefined;
/** Ports handed out in this process: two emulators asking at once must not get the same one. */
const claimedPorts = new Set<number>();

async function unclaimedPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!claimedPorts.has(port)) {
      claimedPorts.add(port);
      return port;
    }
  }
}

/** Whether `GET /` answers `Ok`, as both emulators do once they serve requests. */
function answersOk(hostPort: string): Promise<boolean> {
  return new Promise(resolve => {
    // No keep-alive agent: a pooled socket would outlive a stop() and make the next probe lie.
    const request = get(
      `http://${hostPort}/`,
      {agent: false, timeout: 1000},
      response => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve(response.statusCode === 200 && body.trim() === 'Ok'),
        );
        response.on('error', () => resolve(false));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n');
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '(no output)';
  }
}

class GcloudEmulator implements Emulator {
  readonly name: string;
  readonly host: string;
  readonly logFile: string;
  lastStartupMs: number | undefined;
  private group: ProcessGroup | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly spec: Spec,
    readonly port: number,
    private readonly options: EmulatorOptions,
  ) {
    this.name = spec.name;
    this.host = `${LOOPBACK}:${port}`;
    const dir =
      options.logDir ??
      (defaultLogDir ??= mkdtempSync(join(tmpdir(), 'opwatch-emulators-')));
    this.logFile = join(dir, `${spec.name}-${port}.log`);
  }

  get running(): boolean {
    return this.group !== undefined;
  }

  start(): Promise<void> {
    return this.serially(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serially(() => this.doStop());
  }

  restart(options: {downtimeMs?: number} = {}): Promise<void> {
    return this.serially(async () => {
      await this.doStop();
      await sleep(options.downtimeMs ?? 0);
      await this.doStart();
    });
  }

  /** start/stop/restart from concurrent callers run one after another, never interleaved. */
  private serially(operation: () => Promise<void>): Promise<void> {
    const next = this.queue.then(operation, operation);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async doStart(): Promise<void> {
    if (this.group) return;
    // A stale emulator on the port would answer the readiness probe and pass for this one.
    await assertPortFree(
      this.port,
      `${this.name} emulator`,
      this.spec.busyHint,
    );
    const args = this.spec.args(this.host);
    appendFileSync(
      this.logFile,
      `--- ${new Date().toISOString()} gcloud ${args.join(' ')}\n`,
    );
    const began = Date.now();
    const group = spawnGroup('gcloud', args, {
      logFile: this.logFile,
      env: gcloudEnv(),
    });
    let exitedEarly: ExitStatus | undefined;
    void group.exited.then(status => (exitedEarly = status));

    const deadline = began + (this.options.readyTimeoutMs ?? 60_000);
    while (!(await answersOk(this.host))) {
      if (exitedEarly || Date.now() >= deadline) {
        await group.stop(1000).catch(() => undefined);
        const why = exitedEarly
          ? `exited (${exitedEarly.signal ?? `code ${exitedEarly.code}`}) before answering`
          : `did not answer within ${Math.round((deadline - began) / 1000)} s`;
        throw new Error(
          `${this.name} emulator on ${this.host} ${why}; log: ${this.logFile}\n--- last lines ---\n${logTail(this.logFile)}`,
        );
      }
      await sleep(100);
    }
    this.lastStartupMs = Date.now() - began;
    this.group = group;
    void group.exited.then(status => {
      if (this.group === group) {
        this.group = undefined;
        appendFileSync(
          this.logFile,
          `--- exited unexpectedly: ${JSON.stringify(status)}\n`,
        );
        this.options.onUnexpectedExit?.(status);
      }
    });
  }

  private async doStop(): Promise<void> {
    const group = this.group;
    if (!group) return;
    this.group = undefined;
    await group.stop();
    appendFileSync(this.logFile, `--- ${new Date().toISOString()} stopped\n`);
  }
}

async function startEmulator(
  spec: Spec,
  options: EmulatorOptions,
): Promise<Emulator> {
  const emulator = new GcloudEmulator(
    spec,
    options.port ?? (await unclaimedPort()),
    options,
  );
  await emulator.start();
  return emulator;
}

/** Starts `gcloud emulators firestore start` on loopback and resolves once it answers. */
export function startFirestoreEmulator(
  options: EmulatorOptions = {},
): Promise<Emulator> {
  const spec: Spec = {
    name: 'firestore',
    args: hostPort => [
      'emulators',
      'firestore',
      'start',
      `--host-port=${hostPort}`,
      '--quiet',
    ],
    busyHint:
      'stop whatever uses it or choose another port (FIRESTORE_EMULATOR_PORT for the local stack)',
  };
  return startEmulator(spec, options);
}

/**
 * Starts `gcloud beta emulators pubsub start` on loopback and resolves once it answers. The emulator serves any
 * project; `projectId` (default `demo-opwatch`) only satisfies gcloud.
 */
export function startPubSubEmulator(
  options: EmulatorOptions & {projectId?: string} = {},
): Promise<Emulator> {
  const project = options.projectId ?? 'demo-opwatch';
  const spec: Spec = {
    name: 'pubsub',
    args: hostPort => [
      'beta',
      'emulators',
      'pubsub',
      'start',
      `--host-port=${hostPort}`,
      `--project=${project}`,
      '--quiet',
    ],
    busyHint:
      'stop whatever uses it or choose another port (PUBSUB_EMULATOR_PORT for the local stack)',
  };
  return startEmulator(spec, options);
}
