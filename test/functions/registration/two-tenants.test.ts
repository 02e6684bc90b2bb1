/**
 * One deployment shared by two teams, on the emulators, with ID tokens the test mints against a certificate
 * stand-in, verified by google-auth-library in the registration function's own process, as deployed (the poller
 * runs in the test's): every refusal of a shared deployment, each storing nothing; the owner and tenant on
 * registrations and notifications; an admin's list of one tenant; GET /stats of a tenant for its admins; the floor
 * between polls after jitter; and a quick operation of one tenant notified promptly right after the other tenant
 * taught its kind a long duration.
 */
import {
  ALICE,
  ANNA,
  BOB,
  CAROL,
  ADMIN,
  TOPICS,
  SLOW_KIND,
  LONG_MS,
  takes,
  own,
  ENV,
  stack,
  topics,
  inbox,
  type Body,
  register,
  get,
  cancel,
  operation,
  stored,
  notified,
} from './two-tenants-deployment';
import {MIN_POLL_INTERVAL_MS} from '../../../functions/core/policy';
import {KindDurations} from '../../../functions/forecast/kind-durations';
import {operationKind} from '../../../functions/forecast/kind';
import {MAX_BODY_BYTES} from '../../../functions/http/body-limit';
import {createLogger} from '../../../functions/platform/log';
import {pullMessages} from '../../support/emulator-env';
import {functionEnv, startPollProcess} from '../../support/poll-process';
import {stackAddresses} from '../../support/stack';

describe('refusals, each storing nothing', () => {
  const ownTopic = (topic: string) => ({
    operation: operation('proj-a').url,
    topic,
  });

  it.each([
    [
      'a caller in no tenant',
      () => register(CAROL, {operation: operation('proj-a').url}),
      403,
      `${CAROL} is in no tenant of TENANTS`,
    ],
    [
      "team A registering team B's operation",
      () => register(ALICE, {operation: operation('proj-b').url}),
      403,
      'project proj-b is not in TENANTS.team-a.projects',
    ],
    [
      "team A routing a result to team B's topic",
      () =>
        register(ANNA, {
          operation: operation('proj-a').url,
          topic: `${TOPICS}/${topics.b}`,
        }),
      403,
      'is not in TENANTS.team-a.topics',
    ],
    [
      "opwatch's fan-out topic",
      () => register(ALICE, ownTopic(own.fanout)),
      403,
      "is one of opwatch's own topics",
    ],
    [
      "opwatch's dead-letter topic",
      () => register(ALICE, ownTopic(`${TOPICS}/${own.deadLetter}`)),
      403,
      "is one of opwatch's own topics",
    ],
    [
      "opwatch's completion-events topic",
      () => register(ALICE, ownTopic(own.completions)),
      403,
      "is one of opwatch's own topics",
    ],
    [
      'a host serving user content under WATCH_SERVICES=*',
      () =>
        register(ALICE, {
          operation: 'https://storage.googleapis.com/v1bucket/operations/x',
        }),
      403,
      'service storage.googleapis.com is not in WATCH_SERVICES',
    ],
    [
      "another identity's token in Authorization, beside the one IAM checked",
      // IAM checked Bob (X-Serverless-Authorization): the owner is Bob, whose tenant may not watch proj-a.
      () => register(ALICE, {operation: operation('proj-a').url}, BOB),
      403,
      'project proj-a is not in TENANTS.team-b.projects',
    ],
    [
      `an unauthenticated body over ${MAX_BODY_BYTES} bytes, before its token is even looked at`,
      () =>
        register(undefined, {
          operation: operation('proj-a').url,
          padding: 'x'.repeat(MAX_BODY_BYTES),
        }),
      413,
      'the body is over',
    ],
  ])('%s', async (_what, send, status, message) => {
    const before = await stored();
    const answer = await send();
    expect(answer.status).toBe(status);
    expect(answer.body.error!.message).toContain(message);
    if (status === 403)
      expect(answer.body.error!.status).toBe('PERMISSION_DENIED');
    expect(await stored()).toBe(before);
  });

  it("a tenant past its maxPending: 429, the tenant's bound named", async () => {
    const accepted = [];
    for (let n = 0; n < 8; n++) {
      const answer = await register(BOB, {
        operation: operation('proj-b').url,
        topic: topics.b,
      });
      accepted.push(answer.status);
    }
    expect(accepted).toEqual(Array(8).fill(201));
    const before = await stored();
    const over = await register(BOB, {
      operation: operation('proj-b').url,
      topic: topics.b,
    });
    expect(over.status).toBe(429);
    expect(over.body.error!.message).toContain('TENANTS.team-b.maxPending');
    expect(await stored()).toBe(before);
    const page = await get(BOB, '/operations?state=pending');
    const pending = page.body.registrations as {id: string}[];
    await Promise.all(pending.map(r => cancel(BOB, r.id)));
  });
});

describe('owners and tenants on registrations and notifications', () => {
  it('names the owner IAM checked (X-Serverless-Authorization), and its tenant', async () => {
    const answer = await register(
      CAROL,
      {operation: operation('proj-b').url, topic: topics.b},
      BOB,
    );
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({owner: BOB, tenant: 'team-b'});
  });

  it('carries owner and tenant in the data and the attributes; GET and an admin list of one tenant show them', async () => {
    const {url, name} = operation('proj-a', {kind: 'finish', afterMs: 0});
    const created = await register(ANNA, {operation: url, topic: topics.a});
    expect(created.status).toBe(201);
    const [message] = await notified('a', 1);
    expect(message.attributes).toMatchObject({
      owner: ANNA,
      tenant: 'team-a',
      operationName: name,
    });
    expect(message.data).toMatchObject({owner: ANNA, tenant: 'team-a'});

    const shown = await get(ANNA, `/operations/${created.body.id}`);
    expect(shown.body).toMatchObject({owner: ANNA, tenant: 'team-a'});
    expect((await get(BOB, `/operations/${created.body.id}`)).status).toBe(404);
    const listed = await get(ADMIN, '/operations?tenant=team-a&pageSize=100');
    expect(listed.status).toBe(200);
    const page = listed.body.registrations as {id: string; tenant: string}[];
    expect([...new Set(page.map(r => r.tenant))]).toEqual(['team-a']);
    expect(page.map(r => r.id)).toContain(created.body.id);
  });
});

describe("GET /stats: a tenant's admin reads the tenant's figures, the deployment's admin every tenant's", () => {
  /** How many registrations `tenant` has, from the admin's list (every state). */
  async function registrationsOf(tenant: string): Promise<number> {
    const listed = await get(
      ADMIN,
      `/operations?tenant=${tenant}&pageSize=100`,
    );
    return (listed.body.registrations as unknown[]).length;
  }
  const total = (body: Body) =>
    Object.values(body.states as Record<string, number>).reduce(
      (sum, n) => sum + n,
      0,
    );

  it("counts only the tenant's registrations and notifications for its admin, and refuses the rest", async () => {
    const own = await get(ALICE, '/stats');
    expect(own.status).toBe(200);
    expect(own.body.tenant).toBe('team-a');
    expect(own.body.tenants).toBeUndefined();
    expect(total(own.body)).toBe(await registrationsOf('team-a'));
    // Team A's notification of the test above is in its last hour, once the tick's figures are written.
    let lastHour = own.body.lastHour as {notifications: {succeeded: number}};
    for (let i = 0; i < 50 && lastHour.notifications.succeeded === 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 200));
      lastHour = (await get(ALICE, '/stats')).body.lastHour as typeof lastHour;
    }
    expect(lastHour.notifications.succeeded).toBeGreaterThanOrEqual(1);

    expect((await get(ALICE, '/stats?tenant=team-b')).status).toBe(403);
    expect((await get(ANNA, '/stats')).status).toBe(403);
    expect((await get(BOB, '/stats')).status).toBe(403);
  });

  it("gives the deployment's admin the whole, each tenant's pending, and one tenant's figures on asking", async () => {
    const whole = await get(ADMIN, '/stats');
    expect(whole.status).toBe(200);
    expect(whole.body.tenant).toBeUndefined();
    const tenants = whole.body.tenants as Record<string, {pending: number}>;
    expect(Object.keys(tenants).sort()).toEqual(['team-a', 'team-b']);
    const teamB = await get(ADMIN, '/stats?tenant=team-b');
    expect(teamB.body.tenant).toBe('team-b');
    expect(total(teamB.body)).toBe(await registrationsOf('team-b'));
    expect((teamB.body.states as {pending: number}).pending).toBe(
      tenants['team-b'].pending,
    );
    expect(total(whole.body)).toBeGreaterThanOrEqual(
      total(teamB.body) + (await registrationsOf('team-a')),
    );
    expect((await get(ADMIN, '/stats?tenant=team-c')).status).toBe(404);
    expect((await get(ADMIN, '/stats?tenant=Team%20B')).status).toBe(400);
  });
});

it('keeps two polls of one registration at least the floor apart, even at 1 s, x1 and full jitter', async () => {
  const {url, name} = operation('proj-a');
  const answer = await register(ALICE, {
    operation: url,
    topic: topics.a,
    pollPolicy: {initialDelay: '1s', multiplier: 1, maxDelay: '5s', jitter: 1},
  });
  expect(answer.status).toBe(201);
  await stack.tick();
  const times = stack.operationsApi.requestsFor(name).map(r => r.at);
  expect(times.length).toBeGreaterThan(2);
  const gaps = times.slice(1).map((at, i) => at - times[i]);
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(MIN_POLL_INTERVAL_MS);
  await cancel(ALICE, answer.body.id);
});

it("notifies team A's quick operation promptly right after team B taught the kind a long duration", async () => {
  const kind = operationKind('firestore.googleapis.com', {
    metadata: SLOW_KIND,
  })!;
  // Each defined just before it is registered: its duration, as opwatch measures it, is LONG_MS.
  for (let n = 0; n < 6; n++) {
    const {url} = operation('proj-b', takes(LONG_MS));
    expect(
      (await register(BOB, {operation: url, topic: topics.b})).status,
    ).toBe(201);
  }
  expect(await notified('b', 6, 90_000)).toHaveLength(6);
  const history = (scope: string) =>
    new KindDurations(
      stack.firestore,
      stack.collection,
      createLogger(() => {}),
    ).model(kind, scope);
  const taught = await history('tenant team-b');
  expect(taught!.medianMs).toBeGreaterThan(LONG_MS * 0.9);
  expect(await history('tenant team-a')).toBeUndefined();

  // A poll process started now reads the kind's history afresh, as one would once its cache (a minute) ran out.
  const poller = await startPollProcess(
    functionEnv(stackAddresses(stack), {
      ...ENV,
      POLL_BUDGET_SECONDS: '8',
      POLL_LEASE_SECONDS: '8',
      POLL_REQUEST_TIMEOUT_SECONDS: '2',
    }),
  );
  try {
    // Still running at its first poll, however soon that comes: done 2 s after it.
    const quick = operation('proj-a', takes(2000, true));
    const created = await register(ALICE, {
      operation: quick.url,
      topic: topics.a,
    });
    expect(created.status).toBe(201);
    const [, [message]] = await Promise.all([
      poller.tick({timeoutMs: 30_000}),
      pullMessages(inbox.a, {count: 1, timeoutMs: 30_000}),
    ]);
    expect(message.attributes.registrationId).toBe(created.body.id);
    const data = message.data as {registeredAt: string; finishedAt: string};
    const tookMs = Date.parse(data.finishedAt) - Date.parse(data.registeredAt);
    // Team A has no history of the kind: polled as any young operation, not skipped to where team B's finish.
    const [first, second] = stack.operationsApi
      .requestsFor(quick.name)
      .map(r => r.at);
    // Skipped to where team B's finish, it would wait until most of the way to their median: 0.95 of it here.
    expect(second - first).toBeLessThan(taught!.medianMs * 0.75);
    expect(tookMs).toBeLessThan(taught!.medianMs * 0.75);
  } finally {
    await poller.stop();
  }
}, 180_000);
