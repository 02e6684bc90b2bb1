/**
 * The requests the fuzzer (fuzz.test.ts) sends the registration API: methods (mostly POST), paths and query
 * strings (odd spellings, encodings, prototype keys, the ids of accepted registrations), headers (content types
 * and charsets, encodings, trace and forwarding headers, method overrides) and the bodies of fuzz-bodies.ts.
 */
import fc from 'fast-check';
import {requestBody} from './fuzz-bodies';

/** One request of the fuzzer. */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

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

/** A path: mostly /operations, else odd spellings of it, random segments, or an id the API accepted so far. */
const pathTo = (accepted: ReadonlySet<string>) =>
  fc.oneof(
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

/** Any request, those to a registration's id drawn from `accepted` as it is when the request is drawn. */
export function fuzzRequest(
  accepted: ReadonlySet<string>,
): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method,
      path: fc.tuple(pathTo(accepted), query).map(([p, q]) => p + q),
      headers,
      body: fc.option(requestBody, {freq: 8}),
    })
    .map(r => ({...r, body: r.body ?? undefined}));
}
