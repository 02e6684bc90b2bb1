/**
 * One Functions Framework process serving one target, its output on our stdout with the target's name in front of
 * every line, so the two functions' logs stay readable side by side.
 */
import {ChildProcess, spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {createInterface} from 'node:readline';
import type {ExitStatus} from './process-group';
import {acceptsConnections} from './ports';

/** A running function target. */
export interface FunctionProcess {
  readonly target: string;
  readonly port: number;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<ExitStatus>;
  /** Resolves once the process accepts connections; rejects if it exits first or takes over `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function prefixLines(
  stream: NodeJS.ReadableStream | null,
  prefix: string,
  out: NodeJS.WritableStream,
): void {
  if (!stream) return;
  createInterface({input: stream, crlfDelay: Infinity}).on('line', line =>
    out.write(`${prefix} ${line}\n`),
  );
}

const FRAMEWORK_MAIN =
  'node_modules/@google-cloud/functions-framework/build/src/main.js';

/**
 * The Functions Framework that `source` would load, found as Node finds packages: in its own node_modules
 * (an installed artifact), or in a parent folder's (the build inside the repository).
 */
export function frameworkMainFor(source: string): string {
  for (let dir = source; ; dir = dirname(dir)) {
    const main = join(dir, FRAMEWORK_MAIN);
    if (existsSync(main)) return main;
    if (dirname(dir) === dir)
      throw new Error(`no Functions Framework installed for ${source}`);
  }
}

/**
 * Starts `functions-framework --target=TARGET --port=PORT --source=SOURCE`, where SOURCE is a folder whose
 * package.json `main` registers the targets: the deploy artifact (`npm run package`). The child runs under the
 * same Node.js as this process and, unlike the emulators, stays in our process group: a Ctrl-C in the terminal
 * reaches it too, and it shuts down with us.
 */
export function spawnFunction(options: {
  source: string;
  target: string;
  port: number;
  env: NodeJS.ProcessEnv;
}): FunctionProcess {
  const {source, target, port} = options;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      frameworkMainFor(source),
      `--target=${target}`,
      `--port=${port}`,
      `--source=${source}`,
    ],
    {cwd: source, env: options.env, stdio: ['ignore', 'pipe', 'pipe']},
  );
  prefixLines(child.stdout, `[${target}]`, process.stdout);
  prefixLines(child.stderr, `[${target}]`, process.stderr);
  const exited = new Promise<ExitStatus>(resolve => {
    child.once('exit', (code, signal) => resolve({code, signal}));
    child.once('error', error => {
      process.stderr.write(`[${target}] could not start: ${error.message}\n`);
      resolve({code: null, signal: null});
    });
  });
  let done = false;
  void exited.then(() => (done = true));

  return {
    target,
    port,
    exited,
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await acceptsConnections(port))) {
        if (done)
          throw new Error(`${target} exited before listening on ${port}`);
        if (Date.now() >= deadline) {
          throw new Error(
            `${target} did not listen on ${port} within ${timeoutMs / 1000} s`,
          );
        }
        await sleep(100);
      }
    },
    async stop(graceMs = 5000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
