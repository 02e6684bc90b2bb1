/**
 * Operation-shaped JSON no well-behaved API answers, as fast-check arbitraries, written as raw JSON text (so a
 * number can be `1e400`, which parses to Infinity, and a key `__proto__`): times from the year 1 to 9999 and
 * garbage in every time field, extreme and non-finite-looking numbers in every progress field, the wrong type in
 * every field the poller reads, deep nesting, huge strings and key counts, prototype keys. hostile-answers.test.ts
 * sends them through the forecast, the document codec and the notification builder, hostile-ticks.test.ts through
 * real ticks.
 */
import fc from 'fast-check';

/**
 * A JSON value whose numbers may be raw tokens (`1e400`, `-0`), kept as text when it is written; a Map is an
 * object whose keys may be any (an object literal cannot hold an own `__proto__`).
 */
export type RawJson =
  | null
  | boolean
  | number
  | string
  | Raw
  | RawJson[]
  | Map<string, RawJson>
  | {[key: string]: RawJson};

/** A number written as this very token. */
export class Raw {
  constructor(readonly token: string) {}
}

/** The JSON text of `value`, raw tokens as they are. */
export function toJsonText(value: RawJson): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (value instanceof Raw) return value.token;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return `{${entries
    .map(([key, item]) => `${JSON.stringify(key)}:${toJsonText(item)}`)
    .join(',')}}`;
}

const raw = (token: string): RawJson => new Raw(token);

/** Numbers at and past every edge, as JSON tokens: the last ones parse to Infinity, -Infinity and 0. */
const extremeNumber = fc
  .oneof(
    fc.constantFrom(
      '0',
      '-0',
      '1e-9',
      '1e-300',
      '5e-324',
      '1e308',
      '-1e308',
      '9007199254740993',
      '100',
      '100.0000001',
      '-1',
      '101',
      '1e400',
      '-1e400',
      '1e-400',
      '0.000000001e-300',
    ),
    fc
      .double({noNaN: true, noDefaultInfinity: true})
      .map(n => JSON.stringify(n)),
    fc.integer().map(String),
  )
  .map(raw);

/** Times from the year 1 to 9999, as RFC 3339. */
const anyTime = fc
  .date({
    min: new Date('0001-01-01T00:00:00Z'),
    max: new Date('9999-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  })
  .map(date => date.toISOString());

/** What may stand where the poller expects a time, a number or a flag. */
const wrongType: fc.Arbitrary<RawJson> = fc.oneof(
  fc.constantFrom<RawJson>(
    null,
    true,
    false,
    '',
    'yes',
    'NaN',
    'Infinity',
    '1e400',
    [],
    {},
    [1, 2],
    {'0': '1'},
  ),
  extremeNumber,
  anyTime,
  fc.string({maxLength: 40}),
);
const timeLike = fc.oneof(
  {weight: 3, arbitrary: anyTime},
  {weight: 1, arbitrary: wrongType},
);
const numberLike = fc.oneof(
  {weight: 3, arbitrary: extremeNumber},
  {weight: 1, arbitrary: wrongType},
);

/** Progress in each shape the forecast reads (Firestore, Spanner, Compute, Service Management, Vertex AI). */
const progress: fc.Arbitrary<Record<string, RawJson>> = fc.record(
  {
    progressPercent: numberLike,
    progressPercentage: numberLike,
    progressDocuments: fc.record({
      completedWork: numberLike,
      estimatedWork: numberLike,
    }),
    progressBytes: fc.oneof(
      fc.record({completedWork: numberLike, estimatedWork: numberLike}),
      wrongType,
    ),
    progress: fc.oneof(
      fc.array(fc.record({progressPercent: numberLike, startTime: timeLike}), {
        maxLength: 4,
      }),
      fc.record({progressPercent: numberLike, startTime: timeLike}),
      wrongType,
    ),
    startTime: timeLike,
    createTime: timeLike,
    endTime: timeLike,
    genericMetadata: fc.oneof(
      fc.record({createTime: timeLike, updateTime: timeLike}),
      wrongType,
    ),
    '@type': fc.oneof(
      fc.constant('type.googleapis.com/opwatch.test.Hostile'),
      wrongType,
    ),
    verb: fc.oneof(fc.constantFrom('create', 'export', 'bake'), wrongType),
  },
  {requiredKeys: []},
);

/** Keys that mean something to JavaScript objects. */
const prototypeKeys = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
);

/** Something large: a long string, many keys, many tiny values (what parsing expands most), or deep nesting. */
const large: fc.Arbitrary<RawJson> = fc.oneof(
  fc.integer({min: 10_000, max: 400_000}).map(n => 'x'.repeat(n)),
  fc
    .integer({min: 1_000, max: 20_000})
    .map(n =>
      Object.fromEntries(
        Array.from({length: n}, (_, i) => [`k${i}`, raw('0')]),
      ),
    ),
  fc
    .integer({min: 1_000, max: 100_000})
    .map(n => Array.from({length: n}, () => ({}))),
  fc.integer({min: 5, max: 2_000}).map(depth => {
    let value: RawJson = raw('1');
    for (let i = 0; i < depth; i++) value = i % 2 ? [value] : {a: value};
    return value;
  }),
);

/** Metadata: progress, maybe something large, maybe prototype keys. */
const metadata: fc.Arbitrary<RawJson> = fc.oneof(
  {weight: 6, arbitrary: progress},
  {
    weight: 2,
    arbitrary: fc
      .tuple(progress, large)
      .map(([p, big]) => ({...p, payload: big})),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(progress, prototypeKeys, fc.jsonValue({maxDepth: 2}))
      .map(
        ([p, key, value]) =>
          new Map<string, RawJson>([
            ...Object.entries(p),
            [key, value as RawJson],
          ]),
      ),
  },
  {weight: 1, arbitrary: wrongType},
);

/** An error in the answer: google.rpc.Status, or not. */
const error: fc.Arbitrary<RawJson> = fc.oneof(
  fc.record(
    {
      code: numberLike,
      message: fc.oneof(fc.string({maxLength: 80}), wrongType),
    },
    {requiredKeys: ['code']},
  ),
  fc.record({message: fc.string({maxLength: 20})}),
  wrongType,
);

/** google.rpc.Status as the schema takes it: an integer code (any, even negative), a message, maybe details. */
const status: fc.Arbitrary<RawJson> = fc.record(
  {
    code: fc.integer(),
    message: fc.string({maxLength: 200}),
    details: fc.array(fc.jsonValue({maxDepth: 2}) as fc.Arbitrary<RawJson>, {
      maxLength: 3,
    }),
  },
  {requiredKeys: ['code']},
);

/** A `response` the schema takes: an object, small or large. */
const response: fc.Arbitrary<RawJson> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constant({
      '@type': 'type.googleapis.com/google.protobuf.Empty',
    }),
  },
  {weight: 1, arbitrary: large.map(big => ({payload: big}))},
);

/**
 * An answer the poller takes as the registered operation: the Operation's shape (an object, `done` a boolean, an
 * error with an integer code, `metadata` and `response` objects), with hostile values wherever the schema looks no
 * further (progress, times, sizes, prototype keys). What the forecast, the codec and the notification get.
 */
function acceptableAnswer(name: string): fc.Arbitrary<RawJson> {
  return fc.record(
    {
      // Some APIs answer the project by number where it was registered by id.
      name: fc.constantFrom(
        name,
        name.replace(/^projects\/[^/]+\//, 'projects/1234/'),
      ),
      done: fc.oneof(
        {weight: 3, arbitrary: fc.constant(false)},
        {weight: 1, arbitrary: fc.constant(true)},
      ),
      metadata: fc.oneof(
        {weight: 4, arbitrary: progress},
        {weight: 2, arbitrary: metadata.filter(isObjectLike)},
      ),
      error: status,
      response,
    },
    {requiredKeys: ['name', 'metadata']},
  );
}

/** Whether `value` is written as a JSON object. */
function isObjectLike(value: RawJson): boolean {
  return (
    value instanceof Map ||
    (typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      !(value instanceof Raw))
  );
}

/**
 * Operation-shaped, each field right or hostile, sometimes with another name or `__proto__` at the top: mostly
 * answers that are no Operation, which the poller must count as poll errors with their reason.
 */
function malformedAnswer(name: string): fc.Arbitrary<RawJson> {
  const operation = fc.record(
    {
      name: fc.oneof(
        {weight: 8, arbitrary: fc.constant(name)},
        {weight: 1, arbitrary: fc.constant('operations/other')},
        {weight: 1, arbitrary: wrongType},
      ),
      done: fc.oneof(
        {weight: 4, arbitrary: fc.boolean()},
        {weight: 1, arbitrary: wrongType},
      ),
      metadata,
      error,
      response: fc.oneof(
        {weight: 3, arbitrary: response},
        {weight: 1, arbitrary: large},
        {weight: 1, arbitrary: wrongType},
      ),
    },
    {requiredKeys: ['name']},
  );
  // Sometimes a `__proto__` at the top, as JSON may carry it: parsed, it must stay a plain key.
  return fc
    .tuple(
      operation,
      fc.option(fc.constantFrom<RawJson>({done: true}, {polluted: true})),
    )
    .map(([op, proto]) =>
      proto === null
        ? op
        : new Map<string, RawJson>([
            ...Object.entries(op),
            ['__proto__', proto],
          ]),
    );
}

/**
 * An answer to `operations.get` for the operation named `name`: half of them an Operation with hostile contents,
 * the rest malformed ones and bodies that are not even an object.
 */
export function hostileAnswer(name: string): fc.Arbitrary<RawJson> {
  return fc.oneof(
    {weight: 6, arbitrary: acceptableAnswer(name)},
    {weight: 4, arbitrary: malformedAnswer(name)},
    {weight: 1, arbitrary: wrongType},
    {weight: 1, arbitrary: large},
  );
}

/** A running answer with hostile progress, as the answer that once stalled a shard: what the forecast reads. */
export function hostileProgress(name: string): fc.Arbitrary<RawJson> {
  return progress.map(p => ({name, done: false, metadata: p}));
}
