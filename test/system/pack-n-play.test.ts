/**
 * Pack and play: what is shipped is what is tested.
 *
 * The deploy artifact is built as `npm run package` builds it, copied into an empty folder exactly as Terraform
 * zips it, installed there the way Cloud Functions' build does (`npm ci`, from the artifact's own lock, no
 * devDependencies), and both targets are started from that folder with the Functions Framework it installed.
 * A registration then goes through them end to end: register, tick, notification on a subscription.
 *
 * The CLI likewise: `npm pack` gives the tarball a user installs with `npm install -g`, and the installed
 * `opwatch` bin runs against the artifact's registration API.
 */
import {execFile} from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, relative} from 'node:path';
import {promisify} from 'node:util';
import {TEST_PROJECT} from '../support/emulator-env';
import {REPO_ROOT, SpawnedFunction, functionEnv} from '../support/poll-process';
import {stackAddresses, startStack, type TestStack} from '../support/stack';

const run = promisify(execFile);
const ARTIFACT = join(REPO_ROOT, 'build', 'function-source');
const rootManifest = JSON.parse(
  readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'),
) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let scratch: string;
/** The artifact as Cloud Functions builds it: unpacked into an empty folder, `npm ci --omit=dev` run there. */
let installed: string;
let stack: TestStack;
let operations: SpawnedFunction;
let poll: SpawnedFunction;

/** Every file below `dir`, relative to it, skipping node_modules. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter(entry => entry.isFile())
    .map(entry => relative(dir, join(entry.parentPath, entry.name)))
    .filter(path => !path.startsWith('node_modules'))
    .sort();
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'opwatch-pack-n-play-'));
  installed = join(scratch, 'function-source');
  await run(process.execPath, [join(REPO_ROOT, 'scripts', 'package.mjs')], {
    cwd: REPO_ROOT,
  });
  // Exactly the folder infra/functions.tf zips (it holds no node_modules: nothing is installed there).
  cpSync(ARTIFACT, installed, {recursive: true});
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], {
    cwd: installed,
  });

  stack = await startStack();
  const env = functionEnv(stackAddresses(stack), {
    DEFAULT_TOPIC: stack.topic,
    POLL_BUDGET_SECONDS: '5',
  });
  [operations, poll] = await Promise.all(
    ['operations', 'poll'].map(target =>
      SpawnedFunction.start({target, env, source: installed}),
    ),
  );
}, 240_000);

afterAll(async () => {
  await Promise.all([operations?.stop(), poll?.stop()]);
  await stack?.stop();
  if (scratch) rmSync(scratch, {recursive: true, force: true});
});

describe('the deploy artifact', () => {
  it('holds the compiled functions, a manifest and its lock, and nothing else', () => {
    const files = filesBelow(ARTIFACT);
    expect(files).toContain('index.js');
    expect(files).toContain('package.json');
    expect(files).toContain('package-lock.json');
    const other = files.filter(
      file =>
        !file.endsWith('.js') &&
        file !== 'package.json' &&
        file !== 'package-lock.json',
    );
    expect(other).toEqual([]);
    // Compiled functions/ only: no tests, benchmark, scripts, CLI or local-stack sandbox.
    const tooling = files.filter(file =>
      /(^|\/)(test|bench|scripts|cli|support)\/|\.test\.js$|sandbox|fake-/.test(
        file,
      ),
    );
    expect(tooling).toEqual([]);
  });

  it('declares runtime dependencies only, each at the version the repository declares', () => {
    const manifest = JSON.parse(
      readFileSync(join(ARTIFACT, 'package.json'), 'utf8'),
    ) as Record<string, unknown> & {dependencies: Record<string, string>};
    expect(manifest.main).toBe('index.js');
    expect(existsSync(join(ARTIFACT, manifest.main as string))).toBe(true);
    expect(manifest.devDependencies).toBeUndefined();
    expect(Object.keys(manifest.dependencies).length).toBeGreaterThan(0);
    for (const [name, range] of Object.entries(manifest.dependencies)) {
      expect({name, range}).toEqual({
        name,
        range: rootManifest.dependencies[name],
      });
    }
  });

  it('installs from its own lock with no devDependency', () => {
    const lock = JSON.parse(
      readFileSync(join(installed, 'package-lock.json'), 'utf8'),
    ) as {packages: Record<string, {dev?: boolean}>};
    const devEntries = Object.entries(lock.packages)
      .filter(([, entry]) => entry.dev)
      .map(([path]) => path);
    expect(devEntries).toEqual([]);
    const tooling = ['typescript', 'jest', 'ts-jest', 'gts', 'supertest'];
    for (const name of tooling) {
      expect(rootManifest.devDependencies[name]).toBeDefined();
      expect({
        name,
        installed: existsSync(join(installed, 'node_modules', name)),
      }).toEqual({
        name,
        installed: false,
      });
    }
  });

  it('serves GET /openapi.json from the installed folder', async () => {
    const answer = await operations.request({path: '/openapi.json'});
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({openapi: expect.stringMatching(/^3\./)});
  });

  it('registers, ticks and publishes the notification', async () => {
    const name = `projects/${TEST_PROJECT}/databases/(default)/operations/pack-${Date.now()}`;
    stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
    const registered = await operations.request({
      method: 'POST',
      path: '/operations',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({
        operation: `https://firestore.googleapis.com/v1/${name}`,
      }),
    });
    expect(registered.status).toBe(201);
    const id = (registered.body as {id: string}).id;

    const tick = await poll.tick();
    expect(tick.status).toBe(200);
    expect(tick.body).toMatchObject({published: 1, succeeded: 1});
    const [message] = await stack.pull(1, 20_000);
    expect(message.attributes).toMatchObject({
      registrationId: id,
      outcome: 'succeeded',
    });
    expect(message.data).toMatchObject({
      registrationId: id,
      operation: {name, done: true},
    });
  });
});

describe('the CLI as npm packs it', () => {
  let bin: string;

  beforeAll(async () => {
    const {stdout} = await run(
      'npm',
      ['pack', '--json', '--pack-destination', scratch],
      {cwd: REPO_ROOT},
    );
    const [{filename}] = JSON.parse(stdout) as {filename: string}[];
    const prefix = join(scratch, 'global');
    await run(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--no-audit',
        '--no-fund',
        join(scratch, filename),
      ],
      {cwd: scratch},
    );
    bin = join(prefix, 'bin', 'opwatch');
  }, 180_000);

  it('installs an opwatch bin that prints its help', async () => {
    const {stdout} = await run(bin, ['--help'], {cwd: scratch});
    expect(stdout).toMatch(/^Usage: opwatch/);
    expect(stdout).toMatch(/\bregister\b[\s\S]*\bwait\b/);
  });

  it('registers an operation and reads its status from the running API', async () => {
    const name = `projects/${TEST_PROJECT}/databases/(default)/operations/cli-${Date.now()}`;
    stack.operationsApi.define(name, {kind: 'never'});
    const env = {...process.env, OPWATCH_ENDPOINT: operations.url};
    const registered = await run(
      bin,
      [
        'register',
        `https://firestore.googleapis.com/v1/${name}`,
        '--endpoint',
        operations.url,
        '--json',
      ],
      {cwd: scratch, env},
    );
    const {id} = JSON.parse(registered.stdout) as {id: string};
    const status = await run(
      bin,
      ['status', id, '--endpoint', operations.url, '--json'],
      {cwd: scratch, env},
    );
    expect(JSON.parse(status.stdout)).toMatchObject({
      id,
      state: 'pending',
      name,
    });
  });
});
