/**
 * `opwatch wait` end to end, as a script would use it instead of `gcloud ... operations wait`: the compiled CLI
 * registers an operation on the local stack and blocks while the poller ticks in the background, then exits with
 * the outcome's code. Covers the notification path (a temporary filtered subscription, before or after
 * registering), the status-polling fallback, a registration that had already ended, and cancellation.
 */
import {PubSub} from '@google-cloud/pubsub';
import {TEST_PROJECT} from '../support/emulator-env';
import type {Behavior} from '../support/fake-operations-server';
import {OpwatchApi} from '../../cli/api-client';
import {ProgressReporter} from '../../cli/progress';
import {waitFor} from '../../cli/wait';
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
let stopTicking: () => Promise<void>;
let serial = 0;

beforeAll(async () => {
  [cli, stack] = await Promise.all([buildCli(), startCliStack()]);
  stopTicking = stack.tickInBackground();
}, 180_000);

afterAll(async () => {
  await stopTicking?.();
  cli?.remove();
  await stack?.stop();
});

/** Defines an operation on the fake API; returns its URL. */
function operation(behavior?: Behavior): string {
  const name = `projects/p/databases/(default)/operations/wait-${++serial}-${Date.now()}`;
  if (behavior) stack.operationsApi.define(name, behavior);
  return `${API}/${name}`;
}

const wait = (...args: string[]) =>
  runCli(cli.entry, ['wait', ...args], stack.env);

/** The temporary subscriptions of `wait` still on the stack's topic. */
async function leftoverSubscriptions(): Promise<string[]> {
  const pubsub = new PubSub({projectId: TEST_PROJECT});
  const [names] = await pubsub.topic(stack.topic).getSubscriptions();
  await pubsub.close();
  return names.map(s => s.name).filter(name => name.includes('opwatch-wait'));
}

describe('exit codes by outcome', () => {
  it('succeeded: 0, the notification as JSON, progress on stderr', async () => {
    const url = operation({
      kind: 'finish',
      afterMs: 2000,
      response: {outputUriPrefix: 'gs://b/x'},
    });
    const run = await wait(url, '--json', '--label', 'team=data');

    expect(run.code).toBe(0);
    const payload = JSON.parse(run.stdout);
    expect(payload).toMatchObject({
      outcome: 'succeeded',
      operationUrl: url,
      labels: {team: 'data'},
      operation: {done: true, response: {outputUriPrefix: 'gs://b/x'}},
      registrationId: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    // Not a terminal: plain progress lines.
    expect(run.stderr).toMatch(
      new RegExp(
        `^opwatch: waiting \\d+s · registration ${payload.registrationId} · pending`,
        'm',
      ),
    );
    expect(await leftoverSubscriptions()).toEqual([]);
  });

  it('failed: 1, with the operation error in plain text', async () => {
    const url = operation({
      kind: 'fail',
      afterMs: 500,
      error: {code: 9, message: 'export bucket missing'},
    });
    const run = await wait(url, '--quiet');

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      new RegExp(
        `^failed  ${url.replace(/[()]/g, '\\$&')}  \\(\\d+ polls, waited \\d+s\\)\n  error: code 9: export bucket missing\n$`,
      ),
    );
    expect(run.stderr).toBe('');
  });

  it('expired: 3 when the registration times out first', async () => {
    const run = await wait(
      operation({kind: 'never'}),
      '--timeout',
      '2s',
      '--json',
    );

    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout)).toMatchObject({
      outcome: 'expired',
      pollError: {kind: 'deadline'},
    });
  });

  it('not_found: 4 when the service keeps answering 404', async () => {
    const run = await wait(operation(), '--json');

    expect(run.code).toBe(4);
    expect(JSON.parse(run.stdout)).toMatchObject({
      outcome: 'not_found',
      pollError: {status: 404},
    });
  });

  it('cancelled: 6 when the registration is cancelled meanwhile (seen by status polling)', async () => {
    const waiting = startCli(
      cli.entry,
      ['wait', operation({kind: 'never'}), '--poll-interval', '0.5'],
      stack.env,
    );
    await waiting.waitForStderr(/registration ([0-9a-f]{32})/);
    const id = /registration ([0-9a-f]{32})/.exec(waiting.stderr())![1];
    const cancelled = await runCli(cli.entry, ['cancel', id], stack.env);
    expect(cancelled.code).toBe(0);

    const run = await waiting.finished;
    expect(run.code).toBe(6);
    expect(run.stdout).toMatch(/^cancelled {2}/);
  });

  it('7 when opwatch cannot be reached', async () => {
    const run = await wait(operation(), '--endpoint', 'http://127.0.0.1:9');
    expect(run.code).toBe(7);
  });
});

describe('sources and races', () => {
  it('subscribes before registering when the topic is known, and is told by the notification', async () => {
    const url = operation({kind: 'finish', afterMs: 1000});
    const run = await wait(
      url,
      '--topic',
      stack.topic,
      '--project',
      TEST_PROJECT,
      '--poll-interval',
      '60',
      '--json',
    );
    // With status reads a minute apart, only the notification can have ended the wait this soon.
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({outcome: 'succeeded'});
    expect(run.stderr).not.toMatch(/no subscription/);
    expect(await leftoverSubscriptions()).toEqual([]);
  }, 30_000);

  it('without Pub/Sub (--no-subscribe) the status tells', async () => {
    const run = await wait(
      operation({kind: 'finish', afterMs: 500}),
      '--no-subscribe',
      '--poll-interval',
      '0.5',
      '--json',
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      outcome: 'succeeded',
      operation: {done: true},
    });
  });

  it('without subscriber rights it falls back to the status (in process, Pub/Sub refusing)', async () => {
    // The emulator lets anyone subscribe anywhere, so the refusal comes from a stand-in client.
    const denied = Object.assign(
      new Error(
        '7 PERMISSION_DENIED: User not authorized to perform this action.',
      ),
      {code: 7},
    );
    const refusing = () =>
      ({
        topic: () => ({createSubscription: () => Promise.reject(denied)}),
        close: () => Promise.resolve(),
      }) as unknown as PubSub;
    let progress = '';
    const stream = {
      isTTY: false,
      write: (text: string) => (progress += text),
    } as unknown as NodeJS.WriteStream;
    const api = new OpwatchApi(new URL(stack.endpoint), {
      authorize: async () => undefined,
    });

    const result = await waitFor(
      {
        kind: 'register',
        body: {operation: operation({kind: 'finish', afterMs: 500})},
      },
      {
        api,
        progress: new ProgressReporter(stream),
        pubsub: refusing,
        project: TEST_PROJECT,
        pollIntervalMs: 300,
        deadlineGraceMs: 60_000,
        unreachableLimitMs: 60_000,
      },
    );

    expect(result).toMatchObject({outcome: 'succeeded', via: 'status'});
    expect(progress).toMatch(
      /no subscription to projects\/demo-opwatch\/topics\/\S+ \(7 PERMISSION_DENIED: .*\); polling the status instead/,
    );
  });

  it('an operation whose watch had ended is watched again', async () => {
    const url = operation({
      kind: 'fail',
      afterMs: 0,
      error: {code: 5, message: 'gone'},
    });
    const first = await wait(url, '--json', '--quiet');
    expect(first.code).toBe(1);

    const again = await wait(url, '--json', '--quiet');
    expect(again.code).toBe(1);
    const [before, after] = [first, again].map(run => JSON.parse(run.stdout));
    expect(after).toMatchObject({
      outcome: 'failed',
      operation: {error: {code: 5}},
    });
    expect(after.registrationId).toBe(before.registrationId);
    expect(Date.parse(after.registeredAt)).toBeGreaterThan(
      Date.parse(before.registeredAt),
    );
  });

  it('waits on an existing registration by id', async () => {
    const url = operation({kind: 'finish', afterMs: 1500});
    const registered = await runCli(
      cli.entry,
      ['register', url, '--json'],
      stack.env,
    );
    const {id} = JSON.parse(registered.stdout);
    const run = await wait(id, '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      registrationId: id,
      outcome: 'succeeded',
    });
  });

  it('Ctrl-C: exit 130 and the temporary subscription deleted', async () => {
    const waiting = startCli(
      cli.entry,
      ['wait', operation({kind: 'never'})],
      stack.env,
    );
    await waiting.waitForStderr(/registration [0-9a-f]{32}/);
    // Subscribed by the time the first status read is shown.
    await waiting.waitForStderr(/0 polls|\d+ polls/);
    waiting.kill('SIGINT');
    const run = await waiting.finished;
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/interrupted/);
    expect(await leftoverSubscriptions()).toEqual([]);
  });
});
