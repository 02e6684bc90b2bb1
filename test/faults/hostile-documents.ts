/**
 * Stored registrations broken as a bad migration, a hand edit or another tool could break them: one field of the
 * stored document (functions/core/document.ts) given a value of another type, out of range, huge, or removed.
 * What the codec makes of it is read back from the stored document itself, since some corruptions leave it
 * readable (a Timestamp in the year 1 is still a time).
 */
import {
  FieldValue,
  Timestamp,
  type DocumentSnapshot,
  type QueryDocumentSnapshot,
} from '@google-cloud/firestore';
import fc from 'fast-check';
import {
  MAX_STORED_TIME,
  MIN_STORED_TIME,
  readDocument,
  storedRegistration,
} from '../../functions/core/document';
import {hiddenProblem} from '../../functions/polling/hidden-sweep';

/**
 * The fields a corruption may hit: every stored field and the nested ones, but `state`, which decides whether a
 * registration is pending at all (a registration whose state is no state is not pending, and counts for no one).
 */
const FIELDS = [
  ...Object.keys(storedRegistration.shape).filter(field => field !== 'state'),
  'operation.url',
  'operation.name',
  'pollPolicy.jitter',
];

/**
 * Fields where a string of the right type still leads the poll elsewhere (another topic, user or operation):
 * a legal registration of its own, not a corruption, and one that would end only after a publish grace.
 */
const STRINGS_STEER = /^(topic|subject|operation\b)/;

/** What a corrupted field may hold. */
const VALUES: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    Number.NaN,
    -1,
    1.5,
    1e308,
    true,
    '',
    'x',
    [],
    [1, 'a'],
    {},
    {a: {b: 1}},
    Timestamp.fromMillis(MIN_STORED_TIME),
    Timestamp.fromMillis(MAX_STORED_TIME),
    Timestamp.fromMillis(0),
  ),
  fc.constant('deleted').map(() => FieldValue.delete()),
  fc.integer({min: 1_000, max: 200_000}).map(n => 'x'.repeat(n)),
  fc.string({maxLength: 20}),
);

/** One corruption: the field, and what it is set to (a delete sentinel removes it). */
export interface Corruption {
  field: string;
  value: unknown;
}

/** Corruptions of one field of a stored registration. */
export const corruption: fc.Arbitrary<Corruption> = fc
  .record({field: fc.constantFrom(...FIELDS), value: VALUES})
  .filter(
    ({field, value}) =>
      !(typeof value === 'string' && STRINGS_STEER.test(field)),
  );

/** A corruption as written to the log and the figures. */
export function describeCorruption({field, value}: Corruption): string {
  const shown =
    value instanceof FieldValue
      ? 'deleted'
      : value instanceof Timestamp
        ? value.toDate().toISOString()
        : typeof value === 'string' && value.length > 40
          ? `"x" × ${value.length}`
          : JSON.stringify(value);
  return `${field} = ${shown}`;
}

/**
 * `stored` with `field` set to `value` as a Firestore update sets it: a dotted field is nested, a delete sentinel
 * removes the field.
 */
export function withField(
  stored: Record<string, unknown>,
  field: string,
  value: unknown,
): Record<string, unknown> {
  const [top, nested] = field.split('.');
  const document = {...stored};
  const parent = document[top];
  const target: Record<string, unknown> =
    nested === undefined
      ? document
      : typeof parent === 'object' && parent !== null
        ? {...parent}
        : {};
  const key = nested ?? top;
  if (value instanceof FieldValue) delete target[key];
  else target[key] = value;
  if (nested !== undefined) document[top] = target;
  return document;
}

/**
 * Why the poller must end this stored registration as corrupt, read from the document as stored: the codec
 * cannot read it, or the due query cannot see it; undefined when it is a registration the poller can poll.
 */
export function corruptProblem(snapshot: DocumentSnapshot): string | undefined {
  const read = readDocument(snapshot);
  if (!read.ok) return read.problem;
  return hiddenProblem(snapshot as QueryDocumentSnapshot);
}
