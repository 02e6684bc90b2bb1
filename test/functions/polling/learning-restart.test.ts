/**
 * Learned durations live in Firestore, not in a process: the real `poll` function in a process of its own learns
 * a kind from finished operations, is restarted, and forecasts the next operation of that kind from what it
 * learned before.
 */
import {
  startStackWithPoller,
  type StackWithPoller,
  type TestStack,
} from '../../support/stack';
import type {SpawnedFunction} from '../../support/poll-process';
import {MIN_HISTORY} from '../../../functions/forecast/constants';
import {
  historyModel,
  type StoredHistory,
} from '../../../functions/forecast/history';

const API = 'https://firestore.googleapis.com/v1';
/** A kind with a type and a verb and no progress, so only its history can inform the forecast. */
const METADATA = {
  '@type': 'type.googleapis.com/opwatch.test.BakeMetadata',
  verb: 'bake',
};

let running: StackWithPoller;
let stack: TestStack;
let poller: SpawnedFunction;

beforeAll(async () => {
  running = await startStackWithPoller({
    POLL_BUDGET_SECONDS: '8',
    POLL_LEASE_SECONDS: '2',
    POLL_REQUEST_TIMEOUT_SECONDS: '2',
  });
  ({stack, poller} = running);
}, 60_000);

afterAll(async () => {
  await running?.stop();
});

let serial = 0;
async function bake(afterMs: number): Promise<string> {
  const name = `projects/p/databases/(default)/operations/bake-${Date.now()}-${++serial}`;
  // Running at its first poll however late that comes on a busy machine: only an operation seen running teaches.
  stack.operationsApi.define(name, {
    kind: 'sequence',
    steps: [
      {kind: 'never', metadata: METADATA},
      {kind: 'finish', afterMs, metadata: METADATA},
    ],
  });
  const response = await stack.register({operation: `${API}/${name}`});
  expect(response.status).toBe(201);
  return name;
}

/** How many finished operations the kind's history holds (their weights decay, so to the nearest whole). */
async function learnedCount(): Promise<number | undefined> {
  const kinds = await stack.firestore
    .collection(`${stack.collection}_kinds`)
    .get();
  expect(kinds.size).toBeLessThanOrEqual(1);
  const eras = kinds.docs[0]?.get('eras') as StoredHistory | undefined;
  const model = eras && historyModel(eras, Date.now());
  return model && Math.round(model.count);
}

/** The wait between an operation's first and second poll. */
const secondPollWait = (name: string) => {
  const [first, second] = stack.operationsApi.requestsFor(name).map(r => r.at);
  return second - first;
};

it('learns a kind from finishes that merge, and forecasts from it after a restart of the poll function', async () => {
  // Warm-up: operations finishing at the same moment, all learned in one tick.
  const warmUp = await Promise.all(
    Array.from({length: MIN_HISTORY}, () => bake(3000)),
  );
  expect((await poller.tick({timeoutMs: 20_000})).status).toBe(200);
  expect(await learnedCount()).toBe(MIN_HISTORY);
  // Until then the kind polled from the owners' settings: 5 s after the first poll, less up to 20 % jitter.
  for (const name of warmUp)
    expect(secondPollWait(name)).toBeGreaterThanOrEqual(4000);

  await poller.restart();
  const name = await bake(3000);
  expect((await poller.tick({timeoutMs: 20_000})).status).toBe(200);
  // The restarted process read the history: it polls when such operations finish, not 5 s later.
  expect(secondPollWait(name)).toBeLessThan(3500);
  expect(await learnedCount()).toBe(MIN_HISTORY + 1);
  expect(poller.unexpectedExits).toEqual([]);
});
