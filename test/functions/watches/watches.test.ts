/**
 * Watches end to end, on the emulators and the real Functions Framework, against the fake operations API paging
 * its ListOperations answers two operations a page: every operation started under the parent is notified exactly
 * once with its watchId, those that finish between two lists included; nothing from before the watch; nothing
 * after DELETE; parents outside the allowlists refused.
 */
import request from 'supertest';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import type {PulledMessage} from '../../support/emulator-env';
import {startStack, type TestStack} from '../../support/stack';

const PARENT = 'projects/p/databases/(default)';
const API = 'https://firestore.googleapis.com/v1';
let stack: TestStack;
const api = () => request(getTestServer('operations'));

beforeAll(async () => {
  stack = await startStack({
    LIST_INTERVAL_SECONDS: '1',
    POLL_BUDGET_SECONDS: '3',
    WATCH_PROJECTS: 'p',
  });
});

afterAll(async () => {
  await stack.stop();
});

let serial = 0;
/** Defines an operation under `parent` on the fake API; returns its name. */
function start(
  behavior: Parameters<TestStack['operationsApi']['define']>[1],
  parent = PARENT,
): string {
  const name = `${parent}/operations/op-${++serial}`;
  stack.operationsApi.define(name, behavior);
  return name;
}

/** Ticks `ticks` times, pulling every message that arrives. */
async function tickAndPull(ticks: number): Promise<PulledMessage[]> {
  const messages: PulledMessage[] = [];
  for (let tick = 0; tick < ticks; tick++) {
    expect((await stack.tick()).status).toBe(200);
    messages.push(...(await stack.pull(20, 1500)));
  }
  return messages;
}

const names = (messages: PulledMessage[]) =>
  messages.map(message => message.attributes.operationName).sort();

describe('a watched parent', () => {
  it('notifies every operation that was not done when it began, once, with its watchId', async () => {
    const before = [
      start({kind: 'finish', afterMs: 0}),
      start({kind: 'fail', afterMs: 0, error: {code: 9, message: 'old'}}),
      start({
        kind: 'finish',
        afterMs: 0,
        metadata: {endTime: new Date(Date.now() - 60_000).toISOString()},
      }),
    ];
    // Still running at the first list, which here comes a few seconds after the watch (no wake in this stack).
    const running = start({kind: 'finish', afterMs: 8000});
    const created = await api()
      .post('/watches')
      .send({
        service: 'firestore.googleapis.com',
        parent: PARENT,
        filter: 'metadata.operationType="EXPORT_DOCUMENTS"',
        labels: {team: 'data'},
      })
      .expect(201);
    const watchId = created.body.id as string;
    expect(created.body).toMatchObject({state: 'active', parent: PARENT});
    expect(created.headers.location).toBe(`/watches/${watchId}`);

    // The same watch asked again is the same watch, not a second one.
    const again = await api()
      .post('/watches')
      .send({
        service: 'firestore.googleapis.com',
        parent: PARENT,
        filter: 'metadata.operationType="EXPORT_DOCUMENTS"',
      })
      .expect(200);
    expect(again.body.id).toBe(watchId);

    const first = await tickAndPull(1);
    // Started and finished between two lists: no poll of its own, notified from the next list.
    const between = start({kind: 'finish', afterMs: 0});
    const later = start({
      kind: 'fail',
      afterMs: 1500,
      error: {code: 13, message: 'boom'},
    });
    const messages = [...first, ...(await tickAndPull(4))];

    expect(names(messages)).toEqual([running, between, later].sort());
    for (const message of messages) {
      expect(message.attributes.watchId).toBe(watchId);
      expect(message.attributes.label_team).toBe('data');
      expect(message.data).toMatchObject({watchId, labels: {team: 'data'}});
    }
    const outcomeOf = (name: string) =>
      messages.find(m => m.attributes.operationName === name)!.attributes
        .outcome;
    expect(outcomeOf(later)).toBe('failed');
    expect(outcomeOf(running)).toBe('succeeded');
    // The list said it was done: no operations.get was spent on it.
    expect(stack.operationsApi.requestsFor(between)).toHaveLength(0);
    for (const name of before)
      expect(stack.operationsApi.requestsFor(name)).toHaveLength(0);

    // Every page was read, the filter passed through each time.
    const lists = stack.operationsApi.requestsFor(`${PARENT}/operations`);
    expect(lists.some(r => r.path.includes('pageToken='))).toBe(true);
    for (const list of lists) {
      expect(new URL(list.path, 'http://x').searchParams.get('filter')).toBe(
        'metadata.operationType="EXPORT_DOCUMENTS"',
      );
    }

    // Nothing more, however often it lists.
    expect(await tickAndPull(1)).toEqual([]);

    // An operation running at DELETE, and one started after: neither is notified.
    const atCancel = start({kind: 'finish', afterMs: 2000});
    await tickAndPull(1);
    const cancelled = await api().delete(`/watches/${watchId}`).expect(200);
    expect(cancelled.body.state).toBe('cancelled');
    start({kind: 'finish', afterMs: 0});
    expect(await tickAndPull(2)).toEqual([]);
    const shown = await api().get(`/watches/${watchId}`).expect(200);
    expect(shown.body).toMatchObject({state: 'cancelled'});
    const pendingOf = await api().get('/operations?state=pending').expect(200);
    expect(
      pendingOf.body.registrations.filter(
        (r: {name: string}) => r.name === atCancel,
      ),
    ).toEqual([]);
  });

  it('leaves a registration of the same operation made directly its own', async () => {
    const parent = 'projects/p/databases/direct';
    const name = start({kind: 'finish', afterMs: 1500}, parent);
    const direct = await stack.register({operation: `${API}/${name}`});
    expect(direct.status).toBe(201);
    const watch = await api()
      .post('/watches')
      .send({service: 'firestore.googleapis.com', parent})
      .expect(201);
    const messages = await tickAndPull(3);
    const ids = messages.map(m => m.attributes.registrationId);
    expect(messages).toHaveLength(2);
    expect(ids).toContain(direct.body.id);
    expect(messages.map(m => m.attributes.watchId ?? 'direct').sort()).toEqual(
      [watch.body.id, 'direct'].sort(),
    );
    await api().delete(`/watches/${watch.body.id}`).expect(200);
  });
});

describe('refusals', () => {
  it.each([
    [403, {parent: 'projects/elsewhere/databases/(default)'}, 'WATCH_PROJECTS'],
    [400, {parent: 'projects/p/databases/(default)/operations'}, '/operations'],
    [400, {parent: 'projects/p/../q/databases/d'}, 'segments'],
    [400, {parent: 'projects/p/databases/d?alt=media'}, 'query'],
    [400, {parent: 'projects/p/instances/i'}, 'lists operations under'],
    [400, {service: 'evil.example.com'}, 'googleapis.com'],
    [
      400,
      {service: 'compute.googleapis.com', parent: 'projects/p/zones/z'},
      'google.longrunning',
    ],
  ])('%i for %j', async (status, body, message) => {
    const answer = await api()
      .post('/watches')
      .send({service: 'firestore.googleapis.com', parent: PARENT, ...body})
      .expect(status);
    expect(JSON.stringify(answer.body.error)).toContain(message);
  });

  it('shows a caller its watches, and no watch that is not one', async () => {
    const listed = await api().get('/watches').expect(200);
    expect(listed.body.watches.length).toBeGreaterThan(0);
    await api().get('/watches/0123456789abcdef0123456789abcdef').expect(404);
    await api().get('/watches?state=nope').expect(400);
  });
});
