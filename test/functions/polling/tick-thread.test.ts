/**
 * The poll function works on a worker thread of its own (functions/polling/tick-thread.ts), as deployed: the real
 * `poll` function in a process of its own answers a tick's counts from the worker, and the worker's log lines reach
 * the process's standard output; a tick that fails on the worker answers 503 with the failure, and the worker
 * goes on serving the calls after it.
 */
import {LOOPBACK, freePort} from '../../../scripts/lib/ports';
import {
  functionEnv,
  startPollProcess,
  type SpawnedFunction,
} from '../../support/poll-process';
import {
  stackAddresses,
  startStackWithPoller,
  type StackWithPoller,
} from '../../support/stack';

const API = 'https://firestore.googleapis.com/v1';
const POLL_ENV = {
  POLL_BUDGET_SECONDS: '5',
  POLL_LEASE_SECONDS: '2',
  POLL_REQUEST_TIMEOUT_SECONDS: '2',
};

let running: StackWithPoller;

beforeAll(async () => {
  running = await startStackWithPoller(POLL_ENV);
}, 60_000);

afterAll(async () => {
  await running?.stop();
});

it('answers the counts of a tick worked on the thread, whose audit lines reach standard output', async () => {
  const {stack, poller} = running;
  const ids: string[] = [];
  for (let n = 0; n < 3; n++) {
    const name = `projects/p/databases/(default)/operations/thread-${Date.now()}-${n}`;
    stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
    const response = await stack.register({operation: `${API}/${name}`});
    expect(response.status).toBe(201);
    ids.push(response.body.id as string);
  }

  const answer = await poller.tick({timeoutMs: 20_000});
  expect(answer.status).toBe(200);
  expect(answer.body).toMatchObject({polled: 3, succeeded: 3, published: 3});
  const messages = await stack.pull(3);
  expect(messages.map(m => m.attributes.registrationId).sort()).toEqual(
    [...ids].sort(),
  );
  // Lines the worker writes reach the process's output a moment after the answer, through the main thread.
  const deadline = Date.now() + 5000;
  const notified = () =>
    ids.filter(id =>
      poller.output.some(
        line =>
          line.text.includes('"audit: notify succeeded"') &&
          line.text.includes(id),
      ),
    );
  while (notified().length < ids.length && Date.now() < deadline)
    await new Promise(resolve => setTimeout(resolve, 100));
  expect(notified()).toEqual(ids);
  expect(poller.unexpectedExits).toEqual([]);
}, 30_000);

it('answers 503 for a tick that fails on the thread, and serves the next call', async () => {
  // Nothing listens there: every Firestore call of the tick fails, and the lease claim gives up in time.
  const nowhere = `${LOOPBACK}:${await freePort()}`;
  let broken: SpawnedFunction | undefined;
  try {
    broken = await startPollProcess(
      functionEnv(
        {...stackAddresses(running.stack), firestoreHost: nowhere},
        {...POLL_ENV, POLL_LEASE_SECONDS: '1'},
      ),
    );
    for (let call = 0; call < 2; call++) {
      const answer = await broken.tick({timeoutMs: 20_000});
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({
        error: {
          message: expect.stringMatching(
            /^tick failed: claiming the lease: no answer from Firestore/,
          ),
        },
      });
    }
    expect(broken.unexpectedExits).toEqual([]);
  } finally {
    await broken?.stop();
  }
}, 60_000);
