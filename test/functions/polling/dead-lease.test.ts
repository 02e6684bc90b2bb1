/**
 * A crashed lease holder idles its shard for the rest of its lease, not until the next Scheduler call: the real
 * `poll` function in a process of its own is SIGKILLed mid-tick, restarted, and woken at once (a wake, as a new
 * registration's would; Scheduler's retry of the failed call takes the same path). The woken tick finds the dead
 * holder's lease, sees it no longer renewed, and takes it over within two renewal intervals of it running out.
 */
import {Timestamp} from '@google-cloud/firestore';
import {leaseTimings} from '../../../functions/polling/lease-timings';
import type {SpawnedFunction} from '../../support/poll-process';
import {
  startStackWithPoller,
  type StackWithPoller,
  type TestStack,
} from '../../support/stack';

const LEASE_MS = 3000;
const API = 'https://firestore.googleapis.com/v1';

let running: StackWithPoller;
let stack: TestStack;
let poller: SpawnedFunction;

beforeAll(async () => {
  running = await startStackWithPoller({
    POLL_BUDGET_SECONDS: '10',
    POLL_LEASE_SECONDS: String(LEASE_MS / 1000),
    POLL_REQUEST_TIMEOUT_SECONDS: '2',
  });
  ({stack, poller} = running);
}, 60_000);

afterAll(async () => {
  await running?.stop();
});

it('a wake after a crash takes the dead lease over as it runs out', async () => {
  for (let n = 0; n < 5; n++) {
    const name = `projects/p/databases/(default)/operations/dead-${Date.now()}-${n}`;
    // Done by the time the dead lease runs out: the woken tick notifies them, and ends for want of more.
    stack.operationsApi.define(name, {kind: 'finish', afterMs: 3000});
    expect((await stack.register({operation: `${API}/${name}`})).status).toBe(
      201,
    );
  }
  const leaseDoc = stack.firestore
    .collection(`${stack.collection}_leases`)
    .doc('poller');
  const held = async () => {
    const snapshot = await leaseDoc.get();
    return {
      holder: snapshot.get('holder') as string | undefined,
      until: (snapshot.get('until') as Timestamp | undefined)?.toMillis() ?? 0,
    };
  };

  const killedTick = poller.tick();
  let dead = await held();
  for (let look = 0; look < 50 && dead.until <= Date.now(); look++) {
    await new Promise(resolve => setTimeout(resolve, 100));
    dead = await held();
  }
  expect(dead.until).toBeGreaterThan(Date.now());
  await poller.kill('SIGKILL');
  expect((await killedTick).status).toBe(0);
  // The lease as the holder left it: its last renewal.
  dead = await held();

  await poller.restart();
  // Watches the lease while the woken tick runs, for the first write of another holder: its claim.
  let taker: {holder?: string; until: number} | undefined;
  let watching = true;
  const watch = (async () => {
    while (watching && taker === undefined) {
      const now = await held();
      if (now.holder !== dead.holder && now.until > 0) taker = now;
      else await new Promise(resolve => setTimeout(resolve, 25));
    }
  })();
  const woken = await poller.request({
    method: 'POST',
    path: '/',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({shard: 0, wake: true}),
    timeoutMs: 60_000,
  });

  watching = false;
  await watch;
  expect(woken.status).toBe(200);
  expect(woken.body).toMatchObject({polled: expect.any(Number)});
  expect((woken.body as {leaseHeld?: boolean}).leaseHeld).toBeUndefined();
  // The claim that took over: a new holder, its lease asked for (until less one lease) soon after the dead one's
  // ran out. Seen after a renewal rather than the claim, it would only look later.
  expect(taker).toBeDefined();
  const claimedAt = taker!.until - LEASE_MS;
  const renewEveryMs = leaseTimings(LEASE_MS).renewEveryMs;
  expect(claimedAt).toBeGreaterThanOrEqual(dead.until);
  process.stdout.write(
    `\ndead lease taken over ${claimedAt - dead.until} ms after it ran out (bound ${2 * renewEveryMs} ms)\n`,
  );
  expect(claimedAt - dead.until).toBeLessThanOrEqual(2 * renewEveryMs);
});
