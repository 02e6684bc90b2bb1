/**
 * The operations client against answers that are not the registered Operation: each is a poll error that names
 * why (`rejected`, kind `invalid`), never "still running"; bodies that never end or trickle for ever are cut at
 * the size cap and the request timeout.
 */
import type {Registration} from '../../../functions/core/model';
import {OperationsClient} from '../../../functions/google/operations-client';
import {HostileServer, type HostileReply} from '../../support/hostile-server';

const NAME = 'projects/p/databases/(default)/operations/ABC';
const HOST = 'firestore.googleapis.com';
const MAX_ANSWER_BYTES = 1024 * 1024;
const TIMEOUT_MS = 1500;

let server: HostileServer;
let reply: HostileReply;
let client: OperationsClient;

beforeAll(async () => {
  server = await HostileServer.start(() => reply);
  client = new OperationsClient({
    endpointOverrides: new Map([[HOST, server.baseUrl]]),
    requestTimeoutMs: TIMEOUT_MS,
    maxAnswerBytes: MAX_ANSWER_BYTES,
    tokens: {accessToken: async () => 'token-for-the-test'},
  });
});

afterAll(() => server.stop());

const registration = (
  style: Registration['style'] = 'longrunning',
  name = NAME,
) => ({
  operation: {
    service: HOST,
    version: 'v1',
    name,
    url: `https://${HOST}/v1/${name}`,
  },
  scopes: [],
  style,
});

const answering = (body: unknown, status = 200) => {
  reply = {
    kind: 'raw',
    status,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
};

describe('an answer that is not the registered operation is a poll error with its reason', () => {
  it.each([
    ['a JSON array', [{name: NAME, done: true}], 'not a JSON object'],
    ['null', 'null', 'not a JSON object'],
    ['a number', '42', 'not a JSON object'],
    ['not JSON', '{"name": ', 'not JSON'],
    ['done a string', {name: NAME, done: 'yes'}, 'done: '],
    ['done null', {name: NAME, done: null}, 'done: '],
    [
      'error.code a string',
      {name: NAME, done: true, error: {code: '5'}},
      'error.code: ',
    ],
    [
      'error without a code',
      {name: NAME, done: true, error: {message: 'x'}},
      'error.code: ',
    ],
    ['error a string', {name: NAME, done: true, error: 'boom'}, 'error: '],
    ['metadata an array', {name: NAME, metadata: [1]}, 'metadata: '],
    ['response a number', {name: NAME, done: true, response: 1}, 'response: '],
    [
      'another name',
      {name: 'projects/p/secrets/s', done: true},
      'not the registered operation',
    ],
    ['name a number', {name: 7, done: false}, 'name: '],
    [
      'no name and no done',
      {metadata: {}},
      'neither the registered name nor a done flag',
    ],
    [
      'nested 1000 deep',
      `{"name": "${NAME}", "metadata": {"a": ${'['.repeat(1000)}${']'.repeat(1000)}}}`,
      'nested deeper than 100 levels',
    ],
  ])('%s', async (_what, body, reason) => {
    answering(body);
    const result = await client.get(registration());
    expect(result).toMatchObject({
      kind: 'rejected',
      error: {
        kind: 'invalid',
        status: 200,
        message: expect.stringContaining(reason),
      },
    });
  });
});

describe('what is the registered operation', () => {
  it.each([
    ['its name', {name: NAME, done: false}],
    [
      'its name with the project by number',
      {name: NAME.replace('projects/p/', 'projects/1234/'), done: true},
    ],
    ['no name but a done flag', {done: false}],
    [
      'an error with its code',
      {name: NAME, done: true, error: {code: 5, message: 'gone'}},
    ],
    [
      'a __proto__ key in its metadata',
      `{"name": "${NAME}", "metadata": {"__proto__": {"polluted": true}}}`,
    ],
  ])('%s', async (_what, body) => {
    answering(body);
    expect(await client.get(registration())).toMatchObject({kind: 'operation'});
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a Compute Engine operation: its short name, and errors without a code', async () => {
    const name = 'projects/p/zones/z/operations/operation-1';
    answering({
      name: 'operation-1',
      status: 'DONE',
      error: {errors: [{code: 'QUOTA'}]},
    });
    expect(await client.get(registration('status-done', name))).toMatchObject({
      kind: 'operation',
    });
  });
});

describe('bodies that never end', () => {
  it('an endless body is refused at the size cap, as soon as the cap is reached', async () => {
    reply = {kind: 'endless'};
    const began = Date.now();
    const result = await client.get(registration());
    expect(result).toMatchObject({
      kind: 'rejected',
      error: {
        kind: 'invalid',
        message: `answer over ${MAX_ANSWER_BYTES} bytes`,
      },
    });
    expect(Date.now() - began).toBeLessThan(TIMEOUT_MS);
  });

  it('a trickling body is cut at the request timeout: a transient network error', async () => {
    reply = {kind: 'trickle', everyMs: 50};
    const result = await client.get(registration());
    expect(result).toMatchObject({
      kind: 'transient',
      error: {kind: 'network', message: expect.stringContaining('timed out')},
    });
  });
});

it('a token source that never answers costs the poll its request timeout, as a transient error', async () => {
  const stuck = new OperationsClient({
    endpointOverrides: new Map([[HOST, server.baseUrl]]),
    requestTimeoutMs: 300,
    tokens: {accessToken: () => new Promise<string>(() => {})},
  });
  const began = Date.now();
  const result = await stuck.get(registration());
  expect(result).toMatchObject({
    kind: 'transient',
    error: {
      kind: 'network',
      message: expect.stringContaining(
        'no answer from the token source in 300 ms',
      ),
    },
  });
  expect(Date.now() - began).toBeLessThan(2000);
});
