/**
 * The compiled `opwatch` CLI end to end against the local stack: register, status, list, cancel, stats and tail, the
 * usage errors, and the exit codes for a request opwatch refuses (2) or cannot answer (7).
 */
import {PubSub} from '@google-cloud/pubsub';
import {statsSchema} from '../../functions/core/stats';
import {TEST_PROJECT} from '../support/emulator-env';
import {
  buildCli,
  runCli,
  startCli,
  startCliStack,
  type BuiltCli,
  type CliStack,
} from './support/cli';

const API = 'https://firestore.googleapis.com/v1';

let cli: BuiltCli;
let stack: CliStack;
let serial = 0;

beforeAll(async () => {
  // The one caller of the local stack, anonymous, is its admin: `stats` answers.
  [cli, stack] = await Promise.all([
    buildCli(),
    startCliStack({ADMIN_PRINCIPALS: 'anonymous'}),
  ]);
}, 180_000);

afterAll(async () => {
  cli?.remove();
  await stack?.stop();
});

const opwatch = (...args: string[]) => runCli(cli.entry, args, stack.env);
const operationName = () =>
  `projects/p/databases/(default)/operations/cli-${++serial}-${Date.now()}`;

describe('the command line', () => {
  it('prints help and its version with exit 0', async () => {
    const help = await opwatch('--help');
    expect(help.code).toBe(0);
    for (const command of [
      'register',
      'status',
      'list',
      'cancel',
      'wait',
      'tail',
    ])
      expect(help.stdout).toContain(command);
    const version = await opwatch('--version');
    expect(version).toMatchObject({code: 0, stdout: '0.1.0\n'});
  });

  it.each([
    [['bogus']],
    [['register']],
    [
      [
        'register',
        `${API}/x/operations/y`,
        '--service',
        'firestore.googleapis.com',
      ],
    ],
    [['register', `${API}/x/operations/y`, '--timeout', 'soon']],
    [['register', `${API}/x/operations/y`, '--label', 'novalue']],
    [['list', '--state', 'done']],
    [['list', '--page-size', '0']],
    [['status']],
  ])('%j is a usage error: exit 2', async args => {
    const run = await opwatch(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toBe('');
    expect(run.stdout).toBe('');
  });

  it('needs an endpoint', async () => {
    const run = await runCli(cli.entry, ['status', '0'.repeat(32)], {
      ...stack.env,
      OPWATCH_ENDPOINT: '',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/OPWATCH_ENDPOINT/);
  });

  it('exits 7 when opwatch cannot be reached', async () => {
    const run = await opwatch(
      'status',
      '0'.repeat(32),
      '--endpoint',
      'http://127.0.0.1:9',
    );
    expect(run.code).toBe(7);
    expect(run.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});

describe('register, status, list, cancel', () => {
  it('register a URL with labels and a timeout, then again', async () => {
    const url = `${API}/${operationName()}`;
    const first = await opwatch(
      'register',
      url,
      '--label',
      'team=data',
      '--label',
      'run=42',
      '--timeout',
      '2h',
      '--json',
    );
    expect(first.code).toBe(0);
    const registration = JSON.parse(first.stdout);
    expect(registration).toMatchObject({
      state: 'pending',
      operationUrl: url,
      labels: {team: 'data', run: '42'},
      timeout: '7200s',
      topic: `projects/${TEST_PROJECT}/topics/${stack.topic}`,
    });

    const again = await opwatch('register', url);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      `already registered  ${registration.id}  pending     ${url}\n`,
    );

    expect((await opwatch('cancel', registration.id)).code).toBe(0);
    const afterCancel = await opwatch('register', url);
    expect(afterCancel.code).toBe(0);
    expect(afterCancel.stdout).toBe(
      `registered again (was cancelled)  ${registration.id}  pending     ${url}\n`,
    );
  });

  it('register by --service, --name and --version (global options after the command)', async () => {
    const name = operationName();
    const run = await opwatch(
      'register',
      '--service',
      'firestore.googleapis.com',
      '--name',
      name,
      '--version',
      'v1',
      '--scope',
      'https://www.googleapis.com/auth/datastore',
      '--json',
      '--endpoint',
      stack.endpoint,
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      operationUrl: `${API}/${name}`,
      scopes: ['https://www.googleapis.com/auth/datastore'],
    });
  });

  it('an invalid registration: exit 2 and the API error with its field', async () => {
    const run = await opwatch(
      'register',
      '--service',
      'firestore.googleapis.com',
      '--name',
      'projects/p/locations/l/operations/x',
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^opwatch: 400 INVALID_ARGUMENT: /);
    expect(run.stderr).toMatch(
      /\n {2}name: firestore\.googleapis\.com operations are named/,
    );

    const json = await opwatch(
      'register',
      'http://example.com/v1/operations/x',
      '--json',
    );
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: {code: 400, status: 'INVALID_ARGUMENT', field: 'operation'},
    });
  });

  it('status, list (a page, --all), cancel', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await opwatch(
        'register',
        `${API}/${operationName()}`,
        '--json',
      );
      ids.push(JSON.parse(run.stdout).id);
    }

    const status = await opwatch('status', ids[0]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`^id {14}${ids[0]}\nstate {11}pending\n`),
    );
    const statusJson = JSON.parse(
      (await opwatch('status', ids[0], '--json')).stdout,
    );
    expect(statusJson).toMatchObject({id: ids[0], state: 'pending'});

    const page = await opwatch(
      'list',
      '--state',
      'pending',
      '--page-size',
      '1',
      '--json',
    );
    expect(page.code).toBe(0);
    const first = JSON.parse(page.stdout);
    expect(first.registrations).toHaveLength(1);
    expect(first.nextPageToken).toEqual(expect.any(String));
    const plainPage = await opwatch('list', '--page-size', '1');
    expect(plainPage.stderr).toMatch(/^more: --page-token \S+ \(or --all\)$/m);

    const all = JSON.parse(
      (await opwatch('list', '--all', '--page-size', '2', '--json')).stdout,
    );
    expect(all.nextPageToken).toBeUndefined();
    const listed = all.registrations.map((r: {id: string}) => r.id);
    expect(listed).toEqual(expect.arrayContaining(ids));

    const cancelled = await opwatch('cancel', ids[1]);
    expect(cancelled).toMatchObject({code: 0, stdout: `cancelled ${ids[1]}\n`});
    const after = JSON.parse(
      (await opwatch('status', ids[1], '--json')).stdout,
    );
    expect(after.state).toBe('cancelled');
    const cancelledList = JSON.parse(
      (await opwatch('list', '--state', 'cancelled', '--all', '--json')).stdout,
    );
    expect(
      cancelledList.registrations.map((r: {id: string}) => r.id),
    ).toContain(ids[1]);
  });

  it('status and cancel of an unknown registration: exit 2', async () => {
    for (const command of ['status', 'cancel']) {
      const run = await opwatch(command, 'f'.repeat(32));
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/404 NOT_FOUND: no registration f{32}/);
    }
  });
});

describe('stats', () => {
  it("prints the deployment's figures, as text and as the API's JSON", async () => {
    const name = operationName();
    stack.operationsApi.define(name, {kind: 'never'});
    expect((await opwatch('register', `${API}/${name}`)).code).toBe(0);

    const json = await opwatch('stats', '--json');
    expect(json.code).toBe(0);
    const figures = statsSchema.parse(JSON.parse(json.stdout));
    expect(figures.states.pending).toBeGreaterThanOrEqual(1);
    expect(figures.shards).toEqual([
      expect.objectContaining({shard: 0, pending: figures.states.pending}),
    ]);

    const text = await opwatch('stats');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^registrations\s+.*pending \d+/m);
    expect(text.stdout).toMatch(/^shard 0\s+pending \d+ {2}overdue 0/m);
    expect(text.stdout).toMatch(/^oldest overdue\s+none$/m);
    expect(text.stdout).toMatch(/^lag\s+/m);

    // Without TENANTS, no tenant's figures to ask for: the flag reaches the API, which says so.
    const tenant = await opwatch('stats', '--tenant', 'team-a');
    expect(tenant.code).not.toBe(0);
    expect(tenant.stderr).toMatch(/404 NOT_FOUND: no tenant team-a in TENANTS/);
  });
});

describe('tail', () => {
  async function finishOne(): Promise<string> {
    const name = operationName();
    stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
    const run = await opwatch('register', `${API}/${name}`, '--json');
    return JSON.parse(run.stdout).id;
  }

  it('streams notifications from a temporary subscription, and deletes it on the way out', async () => {
    const tail = startCli(
      cli.entry,
      ['tail', '--topic', stack.topic, '--count', '1', '--json'],
      stack.env,
    );
    await tail.waitForStderr(/listening on (\S+)/);
    const subscription = /listening on (\S+)/.exec(tail.stderr())![1];
    const id = await finishOne();
    const stopTicking = stack.tickInBackground();
    const run = await tail.finished;
    await stopTicking();
    await stack.pull(10, 500); // drain the stack's own subscription

    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const message = JSON.parse(lines[0]);
    expect(message).toMatchObject({
      attributes: {registrationId: id, outcome: 'succeeded'},
      data: {registrationId: id, outcome: 'succeeded'},
      publishTime: expect.stringMatching(/^\d{4}-/),
    });
    const pubsub = new PubSub({projectId: TEST_PROJECT});
    const [exists] = await pubsub.subscription(subscription).exists();
    await pubsub.close();
    expect(exists).toBe(false);
  });

  it('reads an existing subscription, one line per notification', async () => {
    const id = await finishOne();
    const stopTicking = stack.tickInBackground();
    const run = await opwatch(
      'tail',
      '--subscription',
      stack.subscription.name,
      '--count',
      '1',
    );
    await stopTicking();
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^\\d{4}-\\S+  +succeeded +${id} +projects/p/databases/`),
    );
  });

  it('stops on SIGINT with exit 0', async () => {
    const tail = startCli(
      cli.entry,
      ['tail', '--topic', stack.topic],
      stack.env,
    );
    await tail.waitForStderr(/listening on/);
    tail.kill('SIGINT');
    const run = await tail.finished;
    expect(run.code).toBe(0);
  });
});

describe('watch', () => {
  it('create, again, list, cancel; a parent outside the service refused with exit 2', async () => {
    const parent = `projects/p/databases/cli-watch-${Date.now()}`;
    const args = ['--service', 'firestore.googleapis.com', '--parent', parent];
    const created = await opwatch(
      'watch',
      'create',
      ...args,
      '--label',
      'team=data',
      '--json',
    );
    expect(created.code).toBe(0);
    const {created: isNew, watch} = JSON.parse(created.stdout);
    expect(isNew).toBe(true);
    expect(watch).toMatchObject({
      state: 'active',
      parent,
      labels: {team: 'data'},
    });

    const again = await opwatch(
      'watch',
      'create',
      ...args,
      '--label',
      'team=data',
    );
    expect(again).toMatchObject({code: 0});
    expect(again.stdout).toContain(`already watching: ${watch.id}`);

    const listed = await opwatch('watch', 'list', '--state', 'active');
    expect(listed.stdout).toContain(`${watch.id}  active`);

    const cancelled = await opwatch('watch', 'cancel', watch.id, '--json');
    expect(JSON.parse(cancelled.stdout)).toMatchObject({
      id: watch.id,
      state: 'cancelled',
    });

    const refused = await opwatch(
      'watch',
      'create',
      '--service',
      'firestore.googleapis.com',
      '--parent',
      'projects/p/instances/i',
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('parent');
  });
});
