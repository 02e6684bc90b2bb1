/**
 * Runs the compiled `opwatch` CLI as a child process against the test stack (test/support/stack.ts): the
 * `operations` function listening on a loopback port, the Pub/Sub emulator, and a poller ticking in the
 * background the way Cloud Scheduler would.
 *
 * The CLI is compiled with cli/tsconfig.json (what `npm pack` does), into a directory of this test
 * file's own under .local/ rather than dist/, so parallel test files and a developer's dist/ never race. Node
 * resolves its dependencies from the repository's node_modules, as it would from dist/.
 */
import {execFile, spawn} from 'node:child_process';
import type {Server} from 'node:http';
import {rmSync} from 'node:fs';
import type {AddressInfo} from 'node:net';
import {join, resolve} from 'node:path';
import {promisify} from 'node:util';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import {TEST_PROJECT} from '../../support/emulator-env';
import {startStack, type TestStack} from '../../support/stack';

const ROOT = resolve(__dirname, '..', '..', '..');

/** A compiled CLI. */
export interface BuiltCli {
  /** The entry point, `<outDir>/cli/opwatch.js`. */
  entry: string;
  remove(): void;
}

/** Compiles the project (as `npm run build` does) into a fresh directory under .local/. */
export async function buildCli(): Promise<BuiltCli> {
  const outDir = join(
    ROOT,
    '.local',
    `cli-test-w${process.env.JEST_WORKER_ID ?? 0}-${process.pid}-${Date.now()}`,
  );
  const tsc = require.resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(
      process.execPath,
      [tsc, '-p', join(ROOT, 'cli', 'tsconfig.json'), '--outDir', outDir],
      {cwd: ROOT},
    );
  } catch (error) {
    const {stdout = '', stderr = ''} = error as {
      stdout?: string;
      stderr?: string;
    };
    throw new Error(`tsc failed:\n${stdout}${stderr}`);
  }
  return {
    entry: join(outDir, 'cli', 'opwatch.js'),
    remove: () => rmSync(outDir, {recursive: true, force: true}),
  };
}

/** What a finished CLI run left. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI run in progress. */
export interface RunningCli {
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when `pattern` has appeared on stderr. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  finished: Promise<CliRun>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `node <entry> ...args` with `env` added to this process's environment. */
export function startCli(
  entry: string,
  args: string[],
  env: Record<string, string> = {},
): RunningCli {
  const child = spawn(process.execPath, [entry, ...args], {
    cwd: ROOT,
    env: {...process.env, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', chunk => (stdout += chunk));
  child.stderr.on('data', chunk => (stderr += chunk));
  const finished = new Promise<CliRun>(resolve =>
    child.on('close', code => resolve({code, stdout, stderr})),
  );
  return {
    stderr: () => stderr,
    async waitForStderr(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stderr)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`no ${pattern} on stderr:\n${stderr}`);
        await sleep(50);
      }
    },
    finished,
    kill: signal => child.kill(signal),
  };
}

/** Runs the CLI to the end. */
export function runCli(
  entry: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  return startCli(entry, args, env).finished;
}

export const sleep = (ms: number) =>
  new Promise(resolve => setTimeout(resolve, ms));

/** The test stack with the `operations` function on a real port, for a child process to call. */
export interface CliStack extends TestStack {
  endpoint: string;
  /** The CLI's environment: the endpoint, the Pub/Sub emulator and the project. */
  env: Record<string, string>;
  /** Ticks the poller back to back until the returned function is called (and the tick running ends). */
  tickInBackground(): () => Promise<void>;
}

/** Starts the stack (with `env` on top of its configuration) and serves the `operations` function on 127.0.0.1. */
export async function startCliStack(
  env: Record<string, string> = {},
): Promise<CliStack> {
  const stack = await startStack(env);
  const server: Server = getTestServer('operations');
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...stack,
    endpoint,
    env: {
      OPWATCH_ENDPOINT: endpoint,
      PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST ?? '',
      GOOGLE_CLOUD_PROJECT: TEST_PROJECT,
    },
    tickInBackground() {
      let stopped = false;
      const loop = (async () => {
        while (!stopped) {
          await stack.tick();
          await sleep(100);
        }
      })();
      return async () => {
        stopped = true;
        await loop;
      };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise(resolve => server.close(resolve));
      await stack.stop();
    },
  };
}
