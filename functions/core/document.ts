/**
 * The stored registration document, defined once: the zod schema below is what {@link toDocument} encodes with
 * and what {@link readDocument} decodes and validates with, so a document this version cannot read is found when
 * it is read, not half-way through a poll.
 *
 * Stored shape: times are Firestore Timestamps, the last operation is JSON text (an Operation may hold nested
 * arrays, which Firestore cannot store as a value), and `expireAt` (the TTL policy's field) is set once a watch
 * ends.
 */
import {
  FieldValue,
  Timestamp,
  type DocumentSnapshot,
} from '@google-cloud/firestore';
import {z} from 'zod';
import {
  STATES,
  pollErrorSchema,
  type Operation,
  type Registration,
} from './model';
import {BUCKETS, bucketOf} from './shards';

/**
 * The last operation seen is kept for `GET /operations/{id}` and for the notification of a watch that ends
 * without a result. Beyond this size only its name and done flag are kept, far below Firestore's 1 MiB limit.
 */
export const MAX_STORED_OPERATION_BYTES = 256 * 1024;
/**
 * While a watch is pending its last operation is rewritten on every poll, so less of it is kept: progress
 * metadata fits easily, and a larger one is cut to its name and done flag until the watch ends.
 */
export const MAX_PENDING_OPERATION_BYTES = 16 * 1024;

/** The earliest instant a Firestore Timestamp holds, 0001-01-01T00:00:00Z, in epoch milliseconds. */
export const MIN_STORED_TIME = -62_135_596_800_000;
/** The latest instant a Firestore Timestamp holds, 9999-12-31T23:59:59.999Z, in epoch milliseconds. */
export const MAX_STORED_TIME = 253_402_300_799_999;

/** Epoch milliseconds in the code, a Timestamp in the document; an instant Firestore cannot hold is refused. */
export const time = z.codec(
  z.instanceof(Timestamp),
  z.number().min(MIN_STORED_TIME).max(MAX_STORED_TIME),
  {
    decode: stored => stored.toMillis(),
    encode: millis => Timestamp.fromMillis(millis),
  },
);

/** The operation's JSON text, or only its name and done flag when the text is over `maxBytes`. */
function capped(operation: Operation, maxBytes: number): string {
  const text = JSON.stringify(operation);
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return JSON.stringify({name: operation.name, done: operation.done});
}

const operationObject = z.custom<Operation>(
  value => typeof value === 'object' && value !== null && !Array.isArray(value),
  'must be a JSON object',
);

/** An Operation in the code, its JSON text in the document. */
const operationText = z.codec(z.string(), operationObject, {
  decode: (text, ctx) => {
    try {
      return JSON.parse(text) as Operation;
    } catch {
      ctx.issues.push({
        code: 'invalid_format',
        format: 'json',
        input: text,
        message: 'must be JSON text',
      });
      return z.NEVER;
    }
  },
  encode: operation => capped(operation, MAX_STORED_OPERATION_BYTES),
});

const count = z.number().int().nonnegative();

/** Fields a write gives as undefined to say they no longer hold: they are deleted from the document. */
const CLEARABLE_FIELDS = [
  'lastError',
  'progressPercent',
  'estimatedDoneAt',
] as const;

/** A registration document as stored (the document id is the registration id, so it is not a field). */
export const storedRegistration = z.object({
  /** Who registered it: the caller's verified e-mail, or `anonymous`. */
  owner: z.string().min(1),
  /** The owner's tenant when it was made (TENANTS); absent without tenants. */
  tenant: z.string().min(1).optional(),
  /** The shard bucket, a hash of the id (core/shards.ts). */
  bucket: z
    .number()
    .int()
    .min(0)
    .max(BUCKETS - 1),
  /** Where completion events find it (core/completion-events.ts); absent for services without them. */
  completionKey: z.string().optional(),
  /** When a completion event last made it due (completions/due-now.ts). */
  eventDueAt: time.optional(),
  /** The watch that found it (core/watch.ts); absent for a registration made directly. */
  watchId: z.string().optional(),
  operation: z.object({
    service: z.string(),
    version: z.string(),
    name: z.string(),
    url: z.string(),
  }),
  topic: z.string(),
  labels: z.record(z.string(), z.string()),
  timeoutMs: z.number().positive(),
  scopes: z.array(z.string()),
  style: z.enum(['longrunning', 'status-done']),
  subject: z.string().optional(),
  pollPolicy: z
    .object({
      initialDelayMs: z.number().positive(),
      multiplier: z.number().positive(),
      maxDelayMs: z.number().positive(),
      jitter: z.number().min(0).max(1),
    })
    .optional(),
  state: z.enum(STATES),
  createdAt: time,
  updatedAt: time,
  deadline: time,
  nextPollAt: time,
  lastPolledAt: time.optional(),
  finishedAt: time.optional(),
  attempts: count,
  errorStreak: count,
  lastError: pollErrorSchema.optional(),
  lastOperation: operationText.optional(),
  /** Share of the work done, as the operation last reported it; only while pending. */
  progressPercent: z.number().min(0).max(100).optional(),
  /** When the operation will likely be done (forecast/); only while pending. */
  estimatedDoneAt: time.optional(),
  /** Refused publishes of the notification, and when the first was: how long it has been tried. */
  publishFailures: count.optional(),
  publishFailingSince: time.optional(),
  /** The Cloud Logging trace of the registering request (model.ts). */
  trace: z.string().max(256).optional(),
  expireAt: time.optional(),
});

const storedFields = storedRegistration.partial();

/**
 * Fields no query filters or orders on by themselves: exempt from Firestore's automatic single-field indexes
 * (infra/firestore.tf, held to this list by test/infra). The rising times would otherwise each be a hot index
 * range written on every poll, and the large ones cost index storage and write time for nothing. The due
 * query's composite index (state, bucket, nextPollAt) is unaffected by these exemptions.
 */
export const UNINDEXED_FIELDS = [
  'nextPollAt',
  'updatedAt',
  'lastPolledAt',
  'createdAt',
  'finishedAt',
  'deadline',
  'attempts',
  'errorStreak',
  'lastOperation',
  'lastError',
  'operation',
  'labels',
  'scopes',
  'pollPolicy',
  'bucket',
  'trace',
  'publishFailures',
  'publishFailingSince',
  'eventDueAt',
] as const;

/**
 * Registration fields the poller writes after a poll; a document it cannot read gets only the state, the times
 * and the error.
 */
export type PollUpdate = Pick<Registration, 'state' | 'updatedAt'> &
  Partial<
    Pick<
      Registration,
      | 'attempts'
      | 'errorStreak'
      | 'nextPollAt'
      | 'lastPolledAt'
      | 'lastError'
      | 'lastOperation'
      | 'finishedAt'
      | 'progressPercent'
      | 'estimatedDoneAt'
      | 'publishFailures'
      | 'publishFailingSince'
    >
  >;

/** What reading a document found: the registration, or why the document is not one. */
export type ReadResult =
  {ok: true; registration: Registration} | {ok: false; problem: string};

/** Why a stored `what` does not fit its schema, field by field. */
export function unreadable(what: string, error: z.ZodError): string {
  const problem = error.issues
    .map(issue => `${issue.path.join('.') || 'document'}: ${issue.message}`)
    .join('; ');
  return `stored ${what} unreadable: ${problem}`;
}

/** Decodes and validates a stored document. */
export function readDocument(snapshot: DocumentSnapshot): ReadResult {
  const parsed = storedRegistration.safeParse(snapshot.data());
  if (!parsed.success)
    return {ok: false, problem: unreadable('document', parsed.error)};
  // expireAt is the TTL policy's, not part of the registration.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const {expireAt, ...fields} = parsed.data;
  return {ok: true, registration: {...fields, id: snapshot.id}};
}

/**
 * Thrown by {@link toDocument} for fields that do not fit the stored schema (a time Firestore cannot hold, a
 * number that is not one, an operation that cannot be written as JSON). What caused it is the registration's
 * own data, never Firestore: the poller charges it to that registration and goes on with the rest.
 */
export class UnstorableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnstorableError';
  }
}

/**
 * Encodes registration fields (a whole registration, or the fields an update changes) as stored. A whole
 * registration (it has its id) is stored with its shard bucket; while pending, at most
 * {@link MAX_PENDING_OPERATION_BYTES} of the last operation is kept; a watch that ends gets its `expireAt`;
 * a field of {@link CLEARABLE_FIELDS} given as undefined is deleted.
 * @throws UnstorableError when a field does not fit the stored schema: opwatch never writes a document it could
 *   not read back.
 */
export function toDocument(
  fields: Partial<Registration>,
  retentionMs: number,
): Record<string, unknown> {
  try {
    return encode(fields, retentionMs);
  } catch (error) {
    if (error instanceof z.ZodError) {
      const problems = error.issues.map(
        issue => `${issue.path.join('.') || 'document'}: ${issue.message}`,
      );
      throw new UnstorableError(`not storable: ${problems.join('; ')}`);
    }
    // Timestamp's own range check, or JSON.stringify on an operation nested past the stack.
    throw new UnstorableError(`not storable: ${(error as Error).message}`);
  }
}

function encode(
  fields: Partial<Registration>,
  retentionMs: number,
): Record<string, unknown> {
  const {id, ...stored} = fields;
  const document: Record<string, unknown> = storedFields.encode({
    ...stored,
    ...(id !== undefined && {bucket: bucketOf(id)}),
  });
  if (fields.state === 'pending' && fields.lastOperation !== undefined)
    document.lastOperation = capped(
      fields.lastOperation,
      MAX_PENDING_OPERATION_BYTES,
    );
  for (const field of CLEARABLE_FIELDS) {
    if (fields[field] === undefined && field in fields)
      document[field] = FieldValue.delete();
  }
  if (fields.state !== undefined && fields.state !== 'pending') {
    const finishedAt = fields.finishedAt ?? fields.updatedAt ?? Date.now();
    document.expireAt = Timestamp.fromMillis(finishedAt + retentionMs);
  }
  return document;
}

/**
 * Thrown for a stored document that is not a registration this version can read: which one, and the owner it
 * names if it names one (so only that owner, or an admin, is told about it).
 */
export class CorruptDocumentError extends Error {
  constructor(
    message: string,
    readonly registrationId: string,
    readonly owner: string | undefined,
  ) {
    super(message);
    this.name = 'CorruptDocumentError';
  }
}

/** The owner a stored document names, when that field at least is a non-empty string. */
export function storedOwner(snapshot: DocumentSnapshot): string | undefined {
  const owner: unknown = snapshot.get('owner');
  return typeof owner === 'string' && owner !== '' ? owner : undefined;
}

/**
 * Converts a stored document to a registration.
 * @throws CorruptDocumentError when the document does not fit the stored schema.
 */
export function fromDocument(snapshot: DocumentSnapshot): Registration {
  const read = readDocument(snapshot);
  if (!read.ok)
    throw new CorruptDocumentError(
      read.problem,
      snapshot.id,
      storedOwner(snapshot),
    );
  return read.registration;
}
