/**
 * No gap between ticks: Cloud Scheduler calls `poll` every period whatever the previous tick is doing, and the
 * budget equals the period. The tick that finds the previous one at its end waits for the hand-over instead of
 * standing down, so no registration waits for the next period.
 */
import {Firestore} from '@google-cloud/firestore';
import {CLOUD_PLATFORM} from '../../../functions/core/presets';
import {RegistrationStore} from '../../../functions/registration/store';
import {TEST_PROJECT} from '../../support/emulator-env';
import {startStack, type TestStack} from '../../support/stack';
import {newRegistration} from '../../support/new-registration';

const PERIOD_MS = 3000;
const TICKS = 4;
const INTERVAL_MS = 700;
/** "Within a second or two of its due time". */
const LATENESS_BOUND_MS = 1500;
const SERVICE = 'firestore.googleapis.com';

let stack: TestStack;
/** The store's own client, as in production: its BulkWriter stays open (nothing closes it), so it is not terminated. */
const storeFirestore = new Firestore({projectId: TEST_PROJECT});

beforeAll(async () => {
  stack = await startStack({POLL_BUDGET_SECONDS: String(PERIOD_MS / 1000)});
});

afterAll(async () => {
  await stack.stop();
});

it('ticks back to back every period, budget = period: every registration polled within its bound', async () => {
  const run = Date.now();
  const names = Array.from(
    {length: 10},
    (_, n) => `projects/p/databases/(default)/operations/b2b-${run}-${n}`,
  );
  // Stored directly, with a fixed interval so every due time is known (an explicit policy wins over the
  // forecast): the API would refuse an interval this short, below the pollPolicy floors that bound abuse.
  const store = new RegistrationStore(
    storeFirestore,
    stack.collection,
    86_400_000,
  );
  for (const name of names) {
    stack.operationsApi.define(name, {kind: 'never'});
    await store.register(
      newRegistration(
        SERVICE,
        name,
        `projects/${TEST_PROJECT}/topics/${stack.topic}`,
        {
          scopes: [CLOUD_PLATFORM],
          pollPolicy: {
            initialDelayMs: INTERVAL_MS,
            multiplier: 1,
            maxDelayMs: INTERVAL_MS,
            jitter: 0,
          },
        },
      ),
      'anonymous',
      Date.now(),
    );
  }

  // The Scheduler's calls: one every period, not waiting for the previous answer.
  const started = Date.now();
  const answers: Promise<{status: number; body: Record<string, unknown>}>[] =
    [];
  for (let tick = 0; tick < TICKS; tick++) {
    // then() sends the request now: supertest sends nothing until asked for the answer.
    answers.push(stack.tick().then(answer => answer));
    await new Promise(resolve => setTimeout(resolve, PERIOD_MS));
  }
  const ended = Date.now() - PERIOD_MS;
  const results = await Promise.all(answers);
  expect(results.map(r => r.status)).toEqual(Array(TICKS).fill(200));
  // Each tick worked: none stood down for the lease.
  expect(results.map(r => r.body.leaseHeld === true)).toEqual(
    Array(TICKS).fill(false),
  );

  for (const name of names) {
    const polls = stack.operationsApi
      .requestsFor(name)
      .map(r => r.at)
      .filter(at => at >= started && at <= ended);
    const gaps = polls.slice(1).map((at, i) => at - polls[i]);
    // Each poll is due INTERVAL_MS after the previous one; late by at most the bound, across every tick boundary.
    expect(Math.max(...gaps)).toBeLessThanOrEqual(
      INTERVAL_MS + LATENESS_BOUND_MS,
    );
    expect(polls.length).toBeGreaterThanOrEqual(
      Math.floor(((TICKS - 1) * PERIOD_MS) / (INTERVAL_MS + LATENESS_BOUND_MS)),
    );
  }
});
