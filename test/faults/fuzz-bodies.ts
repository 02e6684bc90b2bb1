/**
 * The bodies the fuzzer (fuzz.test.ts) sends the registration API: valid registrations of several services,
 * the same with one field replaced by something nasty, hostile operation URLs, random JSON, malformed and
 * prototype-polluting JSON, deep nesting, oversized strings, and raw bytes.
 */
import fc from 'fast-check';
import {HOSTILE_PARTS, HOSTILE_URLS} from './hostile-urls';

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

/** A request body: mostly JSON (valid, mutated, hostile, random, broken or deeply nested), sometimes raw bytes. */
export const requestBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  {weight: 9, arbitrary: jsonBody},
  {
    weight: 1,
    arbitrary: fc.uint8Array({maxLength: 512}).map(b => Buffer.from(b)),
  },
);
