/**
 * A property-based fuzzer against the registration API, the `operations` function in a process of its own:
 * 10,000 requests (2,000 in the quick profile, see profile.ts) with random and adversarial methods, paths, query strings, headers (content types, charsets,
 * encodings, trace headers) and bodies (valid and mutated registrations, hostile URLs, random JSON, prototype
 * keys, deep nesting, raw bytes, oversized bodies). A few raw-socket requests lie about their length.
 *
 * No answer may be a 5xx (or missing), the process must stay up, and nothing may be stored for a request that
 * was refused: at the end the collection holds exactly the ids of the registrations the API accepted. The
 * requests are drawn by fuzz-requests.ts, their bodies by fuzz-bodies.ts.
 */
import {Firestore} from '@google-cloud/firestore';
import fc from 'fast-check';
import {connect} from 'node:net';
import {TEST_PROJECT, uniqueName} from '../support/emulator-env';
import {
  functionEnv,
  startOperationsProcess,
  type Answer,
  type SpawnedFunction,
} from '../support/poll-process';
import {FAKED_SERVICES} from '../support/stack';
import {percentiles, printFigures} from './harness';
import {byProfile} from './profile';
import {fuzzRequest, type FuzzRequest} from './fuzz-requests';

const RUNS = byProfile({quick: 40, full: 200});
const BATCH = 50;
const SEED = 20_260_601;
const GOOGLEAPIS = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+googleapis\.com$/;

let api: SpawnedFunction;
let firestore: Firestore;
const collection = uniqueName('fuzz');

beforeAll(async () => {
  firestore = new Firestore({projectId: TEST_PROJECT});
  api = await startOperationsProcess(
    functionEnv(
      {
        projectId: TEST_PROJECT,
        firestoreHost: process.env.FIRESTORE_EMULATOR_HOST!,
        pubsubHost: process.env.PUBSUB_EMULATOR_HOST!,
        collection,
        // The registration API polls nothing: these only make the faked hosts trusted.
        metadataHost: '127.0.0.1:9',
        endpointOverrides: Object.fromEntries(
          FAKED_SERVICES.map(host => [host, 'http://127.0.0.1:9']),
        ),
      },
      {DEFAULT_TOPIC: 'fuzz-notifications'},
    ),
  );
});

afterAll(async () => {
  await api?.stop();
  await firestore?.terminate();
});

/** Ids the API accepted (2xx to a POST): the only documents allowed in the collection. */
const accepted = new Set<string>();

const request = fuzzRequest(accepted);

// --- the property -----------------------------------------------------------------------------------------------

const statuses = new Map<number, number>();
const refusedByNode: string[] = [];
let sent = 0;

/** How long each batch took to be answered in full. */
const batchMs: number[] = [];

function check(req: FuzzRequest, answer: Answer): void {
  sent++;
  statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
  const where = `${req.method} ${req.path.slice(0, 120)} -> ${answer.status} ${answer.error ?? ''}`;
  // Node's HTTP parser refuses some requests before any of opwatch runs (a method it does not know, a TRACE with
  // a body): a bare 400 (opwatch's answers all have a Content-Type), or the connection closed while the request
  // was still being sent. A timeout is no such refusal, and a crash shows as an unexpected exit.
  if (
    (answer.status === 0 && /ECONNRESET|EPIPE/.test(answer.error ?? '')) ||
    (answer.status === 400 && answer.headers['content-type'] === undefined)
  ) {
    refusedByNode.push(req.method);
    return;
  }
  if (answer.status === 0 || answer.status >= 500) {
    throw new Error(
      `${where}: ${JSON.stringify(answer.body).slice(0, 300)}\nheaders: ${JSON.stringify(req.headers)}\nbody: ${String(req.body).slice(0, 300)}`,
    );
  }
  const text = typeof answer.body === 'string' ? answer.body : '';
  // Nothing of the server's insides: no stack traces or default HTML error pages.
  if (/\bat [\w.<>]+ \(.*:\d+:\d+\)|<pre>|<!DOCTYPE/i.test(text))
    throw new Error(`${where}: leaks internals: ${text.slice(0, 200)}`);
  if (
    req.method === 'POST' &&
    (answer.status === 200 || answer.status === 201)
  ) {
    const id = (answer.body as {id?: unknown}).id;
    if (typeof id !== 'string') throw new Error(`${where}: 2xx without an id`);
    accepted.add(id);
  }
}

/** Requests the HTTP client would never send: bodies that are shorter or longer than they say. */
const LIES = [
  'POST /operations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"operation": "x"}',
  'POST /operations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"service": "firestore.googleapis.com", "name": "projects/p/databases/d/operations/lie"}',
  'POST /operations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /operations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /operations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}',
  'GET /operations HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
];

/** Sends raw bytes, half-closes, and returns the status line of the first answer ('' when none). */
function sendRaw(port: number, bytes: string): Promise<string> {
  return new Promise(resolve => {
    const socket = connect({host: '127.0.0.1', port});
    let received = '';
    socket.setTimeout(3000, () => socket.destroy());
    socket.on('data', chunk => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received.split('\r\n')[0] ?? ''));
    socket.on('error', () => undefined);
    socket.end(bytes);
  });
}

it(`${(RUNS * BATCH).toLocaleString('en')} fuzzed requests: no 5xx, the process stays up, nothing stored for a refused request`, async () => {
  const began = Date.now();
  await fc.assert(
    fc.asyncProperty(
      fc.array(request, {minLength: BATCH, maxLength: BATCH}),
      async batch => {
        const t0 = Date.now();
        const answers = await Promise.all(
          batch.map(req => api.request({...req, timeoutMs: 20_000})),
        );
        batch.forEach((req, i) => check(req, answers[i]));
        batchMs.push(Date.now() - t0);
      },
    ),
    {numRuns: RUNS, seed: SEED, endOnFailure: true},
  );

  const lies = [];
  for (const bytes of LIES) lies.push(await sendRaw(api.port, bytes));

  const health = await api.request({
    method: 'GET',
    path: '/operations?pageSize=1',
  });
  const docs = await firestore.collection(collection).select('operation').get();
  const stored = new Set(docs.docs.map(doc => doc.id));
  const services = new Set(
    docs.docs.map(doc => doc.get('operation.service') as string),
  );
  printFigures('fuzz', {
    requests: sent,
    rawRequests: LIES.length,
    seed: SEED,
    statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
    rawStatusLines: lies,
    batchMs: percentiles(batchMs, [50, 90, 100]),
    refusedByNodeParser: refusedByNode.length,
    refusedByNodeParserMethods: [...new Set(refusedByNode)],
    accepted: accepted.size,
    stored: stored.size,
    runMs: Date.now() - began,
  });

  expect(sent).toBeGreaterThanOrEqual(RUNS * BATCH);
  for (const line of lies) expect(line).not.toMatch(/^HTTP\/1\.1 5/);
  expect(health.status).toBe(200);
  expect(api.unexpectedExits).toEqual([]);
  expect([...stored].sort()).toEqual([...accepted].sort());
  for (const service of services) expect(service).toMatch(GOOGLEAPIS);
});
