/**
 * opwatch's functions as real, separate processes: the Functions Framework's own `main.js` serving a target of
 * the compiled functions/index.ts, as Cloud Functions runs it. A test can SIGKILL one mid-tick, restart it on the
 * same port, and read every line it wrote.
 *
 * Why a process and not getTestServer: a crash must lose exactly what a crash loses (in-flight polls, batched
 * writes, the lease), and log hygiene must see what the process itself writes. A real Node.js process also runs
 * google-auth-library as deployed, without the fetch workaround jest's VM needs (see metadata-server.ts).
 *
 * The functions are compiled once per source version (functions/ only, so work in progress elsewhere cannot
 * break the build) into `.local/functions-build/{hash}/`, which is reused while no source changes.
 */
import {ChildProcess, execFile, spawn} from 'node:child_process';
import {createHash} from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import {request as httpRequest} from 'node:http';
import {tmpdir} from 'node:os';
import {dirname, join, relative, resolve} from 'node:path';
import {createInterface} from 'node:readline';
import {promisify} from 'node:util';
import {frameworkMainFor} from '../../scripts/lib/function-process';
import {LOOPBACK, acceptsConnections, freePort} from '../../scripts/lib/ports';

/** The repository root. */
export const REPO_ROOT = resolve(__dirname, '..', '..');
const BUILD_ROOT = join(REPO_ROOT, '.local', 'functions-build');
const LOG_ROOT = join(REPO_ROOT, '.local', 'function-logs');

const run = promisify(execFile);
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Builds and logs of other source versions and runs pile up under .local/: a day's worth is plenty. */
const KEEP_MS = 86_400_000;

function pruneOld(dir: string): void {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    try {
      if (Date.now() - statSync(path).mtimeMs > KEEP_MS)
        rmSync(path, {recursive: true, force: true});
    } catch {
      // Gone already, or another worker's: either way not ours to mind.
    }
  }
}

/** Every file the build reads: the sources and the configuration they compile with. */
function buildInputs(): string[] {
  const files: string[] = [
    join(REPO_ROOT, 'tsconfig.base.json'),
    join(REPO_ROOT, 'functions', 'tsconfig.json'),
    join(REPO_ROOT, 'package-lock.json'),
  ];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, {withFileTypes: true})) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(REPO_ROOT, 'functions'));
  return files.sort();
}

/**
 * Compiles functions/ with the project's compiler settings, unless this exact source was compiled before.
 * Safe to call from concurrent jest workers: each builds into a directory of its own and renames it into place.
 * @returns the compiled `index.js`, for the Functions Framework's `--source`.
 */
export async function buildFunctions(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of buildInputs()) {
    hash.update(relative(REPO_ROOT, file)).update('\0');
    hash.update(readFileSync(file)).update('\0');
  }
  const version = hash.digest('hex').slice(0, 16);
  const target = join(BUILD_ROOT, version);
  const entry = join(target, 'index.js');
  if (existsSync(entry)) return entry;

  mkdirSync(BUILD_ROOT, {recursive: true});
  pruneOld(BUILD_ROOT);
  const scratch = join(BUILD_ROOT, `${version}.tmp-${process.pid}`);
  rmSync(scratch, {recursive: true, force: true});
  mkdirSync(scratch, {recursive: true});
  // Paths in a tsconfig are relative to the file itself.
  const config = join(scratch, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: relative(scratch, join(REPO_ROOT, 'functions', 'tsconfig.json')),
      compilerOptions: {
        rootDir: relative(scratch, join(REPO_ROOT, 'functions')),
        outDir: '.',
        noEmitOnError: false,
      },
      include: [relative(scratch, join(REPO_ROOT, 'functions/**/*.ts'))],
    }),
  );
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  try {
    await run(process.execPath, [tsc, '-p', config], {cwd: REPO_ROOT});
  } catch (error) {
    // tsc emits despite type errors. Type checking is lint's job (and others may be mid-edit elsewhere in
    // functions/): only a build that produced no entry point is a failure here.
    const {stdout, stderr} = error as {stdout?: string; stderr?: string};
    if (!existsSync(join(scratch, 'index.js'))) {
      rmSync(scratch, {recursive: true, force: true});
      throw new Error(`compiling functions/ failed:\n${stdout}${stderr}`);
    }
    process.stderr.write(
      `poll-process: functions/ compiled with type errors:\n${stdout}${stderr}\n`,
    );
  }
  try {
    renameSync(scratch, target);
  } catch {
    // Another worker finished the same build first: use theirs.
    rmSync(scratch, {recursive: true, force: true});
  }
  if (!existsSync(entry)) throw new Error(`the build produced no ${entry}`);
  return entry;
}

/** One line a function process wrote. */
export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
  /** `Date.now()` when it arrived. */
  at: number;
  /** Which start of the process wrote it: 0 for the first, 1 after the first restart, ... */
  generation: number;
}

/** An HTTP answer from a function process. */
export interface Answer {
  /** The HTTP status, or 0 when there was none (the process died, or the connection failed). */
  status: number;
  /** The body parsed as JSON, or the raw text when it is not JSON. */
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  durationMs: number;
  /** Why there was no answer, when status is 0. */
  error?: string;
}

/** A request to a function process. */
export interface RequestOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Gives up after this long (status 0); by default never. */
  timeoutMs?: number;
}

/** How a function process ended, when it was not by {@link SpawnedFunction.kill} or stop(). */
export interface UnexpectedExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  generation: number;
  at: number;
}

/** Options of {@link SpawnedFunction.start}. */
export interface SpawnOptions {
  /** The function target, `poll` or `operations`. */
  target: string;
  /** The complete environment of the process (see {@link functionEnv}); nothing else is inherited. */
  env: Record<string, string>;
  /** Loopback port; a free one when omitted. It stays the same across restarts. */
  port?: number;
  /**
   * A compiled `index.js`, or a folder whose package.json `main` is one, to serve instead of
   * {@link buildFunctions}' (an instrumented copy, an installed deploy artifact). It runs with the Functions
   * Framework it would load itself: its own node_modules' first.
   */
  source?: string;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** One function target served by the Functions Framework in a child process. */
export class SpawnedFunction {
  /** Every line written to stdout and stderr, across restarts. */
  readonly output: OutputLine[] = [];
  /** Exits nobody asked for: a test that wants the process to stay up asserts this stays empty. */
  readonly unexpectedExits: UnexpectedExit[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private generationCount = 0;
  private expectingExit = false;
  private accepting = false;
  /** Every line also goes here, with its time and generation, for reading after a failed run. */
  readonly logFile: string;

  private constructor(
    private readonly source: string,
    private readonly options: SpawnOptions & {port: number},
  ) {
    if (!existsSync(LOG_ROOT)) mkdirSync(LOG_ROOT, {recursive: true});
    else pruneOld(LOG_ROOT);
    this.logFile = join(
      LOG_ROOT,
      `${options.target}-${process.pid}-${options.port}.log`,
    );
  }

  /** Builds the functions if needed, starts the process and resolves once it accepts connections. */
  static async start(options: SpawnOptions): Promise<SpawnedFunction> {
    const source = options.source ?? (await buildFunctions());
    const port = options.port ?? (await freePort());
    const spawned = new SpawnedFunction(source, {...options, port});
    await spawned.launch();
    return spawned;
  }

  get target(): string {
    return this.options.target;
  }

  get port(): number {
    return this.options.port;
  }

  /** `http://127.0.0.1:PORT`. */
  get url(): string {
    return `http://${LOOPBACK}:${this.port}`;
  }

  /** The pid of the current process, or undefined while none runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Whether the current process has started listening (and has not exited since). */
  get listening(): boolean {
    return this.accepting && this.child !== undefined;
  }

  /** How many times the process was started: 1 + restarts. */
  get generations(): number {
    return this.generationCount;
  }

  /** All output as one string, for "this never appears" assertions. */
  text(): string {
    return this.output.map(line => line.text).join('\n');
  }

  /** Sends a request; never throws: a failed request answers status 0 with the reason. */
  request(options: RequestOptions = {}): Promise<Answer> {
    const began = Date.now();
    return new Promise(resolve => {
      const done = (answer: Omit<Answer, 'durationMs'>) =>
        resolve({...answer, durationMs: Date.now() - began});
      // No keep-alive agent: a pooled socket would outlive a kill and fail the next request for no reason.
      const req = httpRequest(
        {
          host: LOOPBACK,
          port: this.port,
          method: options.method ?? 'GET',
          path: options.path ?? '/',
          // Node frames a body on GET, DELETE, ... with nothing unless told its length: the server would read it
          // as the next request.
          headers: {
            ...(options.body !== undefined && {
              'content-length': String(Buffer.byteLength(options.body)),
            }),
            ...options.headers,
          },
          agent: false,
        },
        res => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            done({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: parse(Buffer.concat(chunks).toString('utf8')),
            }),
          );
          res.on('error', error =>
            done({status: 0, headers: {}, body: '', error: error.message}),
          );
        },
      );
      if (options.timeoutMs !== undefined) {
        req.setTimeout(options.timeoutMs, () =>
          req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)),
        );
      }
      req.on('error', error =>
        done({status: 0, headers: {}, body: '', error: error.message}),
      );
      req.end(options.body);
    });
  }

  /** One Cloud Scheduler call: `POST /` with an empty JSON body, as the job sends it. */
  tick(options: {headers?: Record<string, string>; timeoutMs?: number} = {}) {
    return this.request({
      method: 'POST',
      path: '/',
      headers: {'content-type': 'application/json', ...options.headers},
      body: '{}',
      timeoutMs: options.timeoutMs,
    });
  }

  /** Sends `signal` (SIGKILL by default) and resolves once the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    child.kill(signal);
    await this.exited;
  }

  /** Kills the process if it runs, and starts it again on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private async launch(): Promise<void> {
    const generation = this.generationCount++;
    const child = spawn(
      process.execPath,
      [
        frameworkMainFor(this.source),
        `--target=${this.options.target}`,
        `--port=${this.port}`,
        `--source=${this.source}`,
      ],
      {
        cwd: statSync(this.source).isDirectory()
          ? this.source
          : dirname(this.source),
        env: this.options.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.expectingExit = false;
    this.accepting = false;
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({input: child[stream], crlfDelay: Infinity}).on(
        'line',
        text => {
          const at = Date.now();
          this.output.push({stream, text, at, generation});
          appendFileSync(
            this.logFile,
            `${new Date(at).toISOString()} #${generation} ${stream} ${text}\n`,
          );
        },
      );
    }
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        appendFileSync(
          this.logFile,
          `${new Date().toISOString()} #${generation} exited ${signal ?? code}\n`,
        );
        if (!this.expectingExit) {
          this.unexpectedExits.push({code, signal, generation, at: Date.now()});
        }
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });

    const deadline = Date.now() + 30_000;
    while (!(await acceptsConnections(this.port))) {
      if (this.child !== child) {
        throw new Error(
          `${this.target} exited before listening:\n${this.text().slice(-2000)}`,
        );
      }
      if (Date.now() >= deadline) {
        await this.kill();
        throw new Error(`${this.target} did not listen within 30 s`);
      }
      await sleep(50);
    }
    this.accepting = true;
  }
}

/** What {@link functionEnv} needs to know about the stack around the process. */
export interface StackAddresses {
  projectId: string;
  firestoreHost: string;
  pubsubHost: string;
  collection: string;
  /** `127.0.0.1:PORT` of the fake metadata server. */
  metadataHost: string;
  /** Google API host to base URL of its stand-in (ENDPOINT_OVERRIDES). */
  endpointOverrides: Record<string, string>;
}

/**
 * The complete environment of a function process: the stack's addresses, Application Default Credentials
 * pointed at the fake metadata server and nowhere else, and `extra` (POLL_*, DEFAULT_TOPIC, ...) on top.
 * Nothing comes from the caller's environment but PATH and HOME, so a developer's gcloud login or
 * GOOGLE_APPLICATION_CREDENTIALS can never reach a test.
 */
export function functionEnv(
  stack: StackAddresses,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'production',
    GOOGLE_CLOUD_PROJECT: stack.projectId,
    FIRESTORE_EMULATOR_HOST: stack.firestoreHost,
    PUBSUB_EMULATOR_HOST: stack.pubsubHost,
    OPERATIONS_COLLECTION: stack.collection,
    ENDPOINT_OVERRIDES: JSON.stringify(stack.endpointOverrides),
    GCE_METADATA_HOST: stack.metadataHost,
    // A directory that does not exist holds no application_default_credentials.json.
    CLOUDSDK_CONFIG: join(tmpdir(), `opwatch-no-gcloud-${process.pid}`),
    // No Google signs ID tokens here, and the suites watch operations of made-up projects.
    ALLOW_UNAUTHENTICATED: 'true',
    WATCH_PROJECTS: '*',
    ...extra,
  };
}

/** Starts the `poll` target in a process of its own. */
export function startPollProcess(
  env: Record<string, string>,
  port?: number,
): Promise<SpawnedFunction> {
  return SpawnedFunction.start({target: 'poll', env, port});
}

/** Starts the `operations` target (the registration API) in a process of its own. */
export function startOperationsProcess(
  env: Record<string, string>,
  port?: number,
): Promise<SpawnedFunction> {
  return SpawnedFunction.start({target: 'operations', env, port});
}
