/**
 * A property-based fuzzer against the registration API, the `operations` function in a process of its own:
 * 10,000 requests (2,000 in the quick profile, see profile.ts) with random and adversarial methods, paths, query strings, headers (content types, charsets,
 * encodings, trace headers) and bodies (valid and mutated registrations, hostile URLs, random JSON, prototype
 * keys, deep nesting, raw bytes, oversized bodies). A few raw-socket requests lie about their length.
 *
 * No answer may be a 5xx (or missing), the process must stay up, and nothing may be stored for a request that
 * was refused: at the end the collection holds exactly the ids of the registrations the API accepted.
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
import {HOSTILE_PARTS, HOSTILE_URLS} from './hostile-urls';

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

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Ids the API accepted (2xx to a POST): the only documents allowed in the collection. */
const accepted = new Set<string>();

// --- bodies -----------------------------------------------------------------------------------------------------

const idChars = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const validName = fc.oneof(
  fc.tuple(idChars, idChars, idChars).map(
    ([p, d, o]) =>
      ({
        service: 'firestore.googleapis.com',
        name: `projects/${p}/databases/${d}/operations/${o}`,
      }) as Record<string, unknown>,
  ),
  fc.tuple(idChars, idChars, idChars).map(([p, l, o]) => ({
    service: 'run.googleapis.com',
    name: `projects/${p}/locations/${l}/operations/${o}`,
  })),
  fc.tuple(idChars, idChars, idChars).map(([p, z, o]) => ({
    service: 'compute.googleapis.com',
    name: `projects/${p}/zones/${z}/operations/${o}`,
  })),
  fc.tuple(idChars, idChars).map(([s, o]) => ({
    operation: `https://${s.toLowerCase().replace(/[^a-z0-9]/g, 'x')}.googleapis.com/v1/operations/${o}`,
  })),
  fc.tuple(idChars, idChars, idChars).map(([p, d, o]) => ({
    operation: `https://firestore.googleapis.com/v1/projects/${p}/databases/${d}/operations/${o}`,
  })),
);
const validRegistration = fc
  .record(
    {
      target: validName,
      topic: fc.stringMatching(/^[a-z][a-z0-9-]{2,20}$/),
      labels: fc.dictionary(
        fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/),
        // eslint-disable-next-line no-control-regex -- label values may not hold control characters
        fc.string({maxLength: 20}).filter(v => !/[\x00-\x1f\x7f]/.test(v)),
        {maxKeys: 4},
      ),
      timeout: fc.integer({min: 1, max: 86_400}).map(s => `${s}s`),
      pollPolicy: fc.record(
        {
          initialDelay: fc.constantFrom('1s', '0.5s', '10s'),
          multiplier: fc.double({min: 1, max: 10, noNaN: true}),
          maxDelay: fc.constantFrom('60s', '600s'),
          jitter: fc.double({min: 0, max: 1, noNaN: true}),
        },
        {requiredKeys: []},
      ),
    },
    {requiredKeys: ['target']},
  )
  .map(({target, ...rest}) => ({...target, ...rest}));

const nasty = fc.oneof(
  fc.jsonValue({maxDepth: 3}),
  fc.string({unit: 'binary', maxLength: 64}),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '../..',
    '%2e%2e',
    'projects/p/databases/(default)/operations/x',
    '1e309',
    -0,
    Number.MAX_SAFE_INTEGER,
    '__proto__',
    {__proto__: {polluted: true}},
    [],
    {},
    null,
    true,
    ...HOSTILE_URLS.slice(0, 10),
  ),
);
const mutatedRegistration = fc
  .tuple(
    validRegistration,
    fc.constantFrom(
      'operation',
      'service',
      'name',
      'version',
      'topic',
      'labels',
      'timeout',
      'pollPolicy',
      'scopes',
      'subject',
      'extra',
      '__proto__',
      'constructor',
    ),
    nasty,
  )
  .map(([body, field, value]) => ({...body, [field]: value}));

const hostile = fc.oneof(
  fc.constantFrom(...HOSTILE_URLS).map(operation => ({operation})),
  fc.constantFrom(...HOSTILE_PARTS),
  fc
    .tuple(
      fc.constantFrom('https', 'http', 'HTTPS', 'javascript', ''),
      fc.constantFrom('://', ':/', ':\\\\', '://user@', ':///'),
      fc.webUrl({withQueryParameters: true, withFragments: true}),
    )
    .map(([scheme, sep, url]) => ({
      operation: `${scheme}${sep}${url.replace(/^https?:\/\//, '')}`,
    })),
);

const deep = fc.integer({min: 1_000, max: 20_000}).map(n => {
  const kind = n % 3;
  if (kind === 0) return '['.repeat(n) + ']'.repeat(n);
  if (kind === 1)
    return `{"operation": "x", "labels": ${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`;
  return `{"pollPolicy": ${'['.repeat(n)}${']'.repeat(n)}}`;
});

const jsonBody = fc.oneof(
  {weight: 4, arbitrary: validRegistration.map(b => JSON.stringify(b))},
  {weight: 4, arbitrary: mutatedRegistration.map(b => JSON.stringify(b))},
  {weight: 3, arbitrary: hostile.map(b => JSON.stringify(b))},
  {weight: 2, arbitrary: fc.jsonValue().map(v => JSON.stringify(v))},
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '{',
      'null',
      '[]',
      '"text"',
      '{"operation": "a", "operation": "b"}',
      '{"__proto__": {"state": "succeeded"}}',
      '{"constructor": {"prototype": {"polluted": 1}}}',
      '\ufeff{"service": "firestore.googleapis.com"}',
      '{"labels": {"__proto__": "x"}, "operation": "https://x.googleapis.com/v1/operations/y"}',
      `{"operation": "${'a'.repeat(70_000)}"}`,
    ),
  },
  {weight: 1, arbitrary: deep},
);
const body: fc.Arbitrary<string | Buffer> = fc.oneof(
  {weight: 9, arbitrary: jsonBody},
  {
    weight: 1,
    arbitrary: fc.uint8Array({maxLength: 512}).map(b => Buffer.from(b)),
  },
);

// --- requests ---------------------------------------------------------------------------------------------------

const token = fc.stringMatching(/^[A-Za-z0-9._~-]{0,24}$/);
const queryValue = fc.oneof(
  token,
  fc.string({unit: 'grapheme', maxLength: 16}).map(encodeURIComponent),
  fc.constantFrom('pending', 'succeeded', '0', '-1', '1001', '1e3', 'NaN', ''),
  fc
    .tuple(fc.jsonValue({maxDepth: 2}))
    .map(([v]) =>
      Buffer.from(JSON.stringify({after: v})).toString('base64url'),
    ),
);
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'state',
        'pageSize',
        'pageToken',
        'state[a]',
        'pageSize[]',
        '__proto__[x]',
        'x',
      ),
      queryValue,
    ),
    {maxLength: 4},
  )
  .map(pairs =>
    pairs.length === 0
      ? ''
      : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`,
  );
const path = fc.oneof(
  {weight: 6, arbitrary: fc.constant('/operations')},
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '/',
      '/operations/',
      '//operations',
      '/operations//',
      '/OPERATIONS',
      '/operations/..',
      '/operations/../operations',
      '/%6Fperations',
      '/operations%2F',
      '/operations/%2e%2e',
      '/operations/0123456789abcdef0123456789abcdef',
      '/operations/0123456789ABCDEF0123456789ABCDEF',
      `/operations/${'a'.repeat(5000)}`,
      '/openapi.json',
      '/favicon.ico',
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.string({unit: 'grapheme', maxLength: 10}), {maxLength: 4})
      .map(segments => `/${segments.map(encodeURIComponent).join('/')}`),
  },
  {
    weight: 1,
    arbitrary: fc.nat().map(n => {
      const ids = [...accepted];
      return ids.length === 0
        ? '/operations'
        : `/operations/${ids[n % ids.length]}`;
    }),
  },
);
const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=UTF-8',
    'application/json;charset=utf-8',
    'APPLICATION/JSON',
    'application/json; charset=latin1',
    'application/json; charset=iso-8859-1',
    'application/json; charset=utf-16',
    'application/json; charset=ebcdic',
    'application/json; charset=',
    'application/json; charset="utf-8"',
    'application/merge-patch+json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'text/plain',
    'text/json',
    'application/*',
    '*/*',
    '',
  ),
  fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,40}$/),
);
const printable = fc.stringMatching(/^[\x21-\x7e]{0,60}$/);
/** `arbitrary` in one case out of `oneIn`, otherwise absent. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof(
    {weight: oneIn - 1, arbitrary: fc.constant(undefined)},
    {weight: 1, arbitrary},
  );
const headers: fc.Arbitrary<Record<string, string>> = fc
  .tuple(
    fc.record({
      // Mostly what a client of this API sends, so that most bodies get as far as validation.
      'content-type': fc.oneof(
        {weight: 3, arbitrary: fc.constant('application/json')},
        {weight: 1, arbitrary: contentType},
      ),
      'content-encoding': sometimes(
        fc.constantFrom(
          'gzip',
          'deflate',
          'br',
          'identity',
          'x-bogus',
          'gzip, gzip',
        ),
        8,
      ),
      accept: sometimes(
        fc.constantFrom('application/json', 'text/html', '*/*', ''),
        2,
      ),
      'x-cloud-trace-context': sometimes(printable, 2),
      traceparent: sometimes(printable, 2),
      authorization: sometimes(
        printable.map(v => `Bearer ${v}`),
        2,
      ),
      'x-forwarded-for': sometimes(printable, 4),
      'x-http-method-override': sometimes(
        fc.constantFrom('DELETE', 'PUT', 'GET'),
        4,
      ),
    }),
    fc.array(fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,16}$/), printable), {
      maxLength: 3,
    }),
  )
  .map(([base, extra]) => {
    const all: Record<string, string> = Object.fromEntries(extra);
    for (const [name, value] of Object.entries(base))
      if (value !== undefined) all[name] = value;
    return all;
  });
const method = fc.oneof(
  {weight: 6, arbitrary: fc.constant('POST')},
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'GET',
      'DELETE',
      'PUT',
      'PATCH',
      'HEAD',
      'OPTIONS',
      'TRACE',
      'PROPFIND',
      'FOO',
    ),
  },
);
const request: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method,
    path: fc.tuple(path, query).map(([p, q]) => p + q),
    headers,
    body: fc.option(body, {freq: 8}),
  })
  .map(r => ({...r, body: r.body ?? undefined}));

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
