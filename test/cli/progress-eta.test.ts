/**
 * Progress and ETA for people, end to end: an operation reporting 40 % after a minute is polled by the real
 * poller, then `GET /operations/{id}` shows `progressPercent` and `estimatedDoneAt`, `opwatch status` prints
 * them, and `opwatch wait` shows them: a live progress bar on a terminal, plain lines elsewhere.
 */
import {Writable} from 'node:stream';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import request from 'supertest';
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
let id: string;
let startedAt: number;
/** When the poller's last request of the tick reached the API: 40 % done by then, as at every poll. */
let polledAt: number;

beforeAll(async () => {
  [cli, stack] = await Promise.all([buildCli(), startCliStack()]);
  const name = `projects/p/databases/(default)/operations/eta-${Date.now()}`;
  startedAt = Date.now() - 60_000;
  stack.operationsApi.define(name, {
    kind: 'never',
    metadata: {
      '@type':
        'type.googleapis.com/google.firestore.admin.v1.ExportDocumentsMetadata',
      startTime: new Date(startedAt).toISOString(),
      progressDocuments: {completedWork: '400', estimatedWork: '1000'},
    },
  });
  const response = await stack.register({operation: `${API}/${name}`});
  expect(response.status).toBe(201);
  id = response.body.id as string;
  expect((await stack.tick()).status).toBe(200);
  polledAt = stack.operationsApi.requestsFor(name).at(-1)!.at;
}, 180_000);

afterAll(async () => {
  cli?.remove();
  await stack?.stop();
});

/**
 * 40 % done when last polled, a minute or so after the start: done 2.5 times that after the start, give or take
 * the time the poll took. Counted from the poll the estimate came from (the tick may poll more than once while
 * progress gives no steady rate), not from the test's start, which a busy machine delays.
 */
function expectEstimate(iso: string | undefined) {
  const expected = startedAt + (polledAt - startedAt) / 0.4;
  expect(Math.abs(Date.parse(iso!) - expected)).toBeLessThan(5000);
}

it('GET /operations/{id} shows progressPercent and estimatedDoneAt', async () => {
  const response = await request(getTestServer('operations')).get(
    `/operations/${id}`,
  );
  expect(response.status).toBe(200);
  expect(response.body.progressPercent).toBe(40);
  expectEstimate(response.body.estimatedDoneAt);
});

it('opwatch status prints them', async () => {
  const run = await runCli(cli.entry, ['status', id], stack.env);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^progress\s+40% \(400\/1000 documents\)$/m);
  const estimate = /^estimated done\s+(\S+)$/m.exec(run.stdout);
  expectEstimate(estimate?.[1]);
});

it('opwatch wait, not on a terminal: plain lines with the ETA', async () => {
  const waiting = startCli(
    cli.entry,
    ['wait', id, '--no-subscribe', '--poll-interval', '0.5'],
    stack.env,
  );
  await waiting.waitForStderr(/ETA 1m\d\ds/);
  waiting.kill('SIGINT');
  await waiting.finished;
});

it('opwatch wait, on a terminal: a live progress bar at 40 % with the ETA', async () => {
  let drawn = '';
  const terminal = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        drawn += String(chunk);
        done();
      },
    }),
    {isTTY: true, columns: 160},
  ) as unknown as NodeJS.WriteStream;
  const progress = new ProgressReporter(terminal);
  const api = new OpwatchApi(new URL(stack.endpoint), {
    authorize: async () => undefined,
  });
  await waitFor(
    {kind: 'id', id},
    {
      api,
      progress,
      pollIntervalMs: 300,
      deadlineGraceMs: 60_000,
      unreachableLimitMs: 60_000,
      signal: AbortSignal.timeout(1500),
    },
  ).catch(() => {
    // Interrupted on purpose: the operation never ends.
  });
  progress.stop();
  // Presets.shades_classic: 40 % of a 24-wide bar is full blocks, the rest light shade.
  expect(drawn).toContain(`${'\u2588'.repeat(10)}${'\u2591'.repeat(14)}  40%`);
  expect(drawn).toMatch(/ETA 1m\d\ds/);
  expect(drawn).toContain(`registration ${id}`);
});
