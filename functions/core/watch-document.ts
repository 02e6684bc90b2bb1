/**
 * The stored watch document, defined once as registrations' are (document.ts): the zod schema encodes and decodes,
 * so a document this version cannot read is found when it is read. The baseline is one string of space-separated
 * keys rather than an array: thousands of entries in one field, never indexed (infra/firestore.tf).
 */
import {Timestamp, type DocumentSnapshot} from '@google-cloud/firestore';
import {z} from 'zod';
import {time, unreadable} from './document';
import {pollErrorSchema} from './model';
import {presetFor} from './presets';
import {BUCKETS, bucketOf} from './shards';
import {WATCH_STATES, watchKey, type Watch} from './watch';

/** The fields of a watch document. */
export const storedWatch = z.object({
  owner: z.string().min(1),
  tenant: z.string().min(1).optional(),
  /** Same as registrations': the shard whose tick lists it (core/shards.ts). */
  bucket: z
    .number()
    .int()
    .min(0)
    .max(BUCKETS - 1),
  /** watchKey(): an active watch with the same key is found again, not doubled. */
  key: z.string(),
  /** `{service} {parent}`: where a completion event of an operation under the parent finds the watch. */
  parentKey: z.string(),
  service: z.string(),
  version: z.string(),
  parent: z.string(),
  filter: z.string().optional(),
  topic: z.string(),
  labels: z.record(z.string(), z.string()),
  timeoutMs: z.number().positive(),
  scopes: z.array(z.string()),
  style: z.enum(['longrunning', 'status-done']),
  state: z.enum(WATCH_STATES),
  createdAt: time,
  updatedAt: time,
  deadline: time,
  nextListAt: time,
  lastListedAt: time.optional(),
  finishedAt: time.optional(),
  lists: z.number().int().nonnegative(),
  baseline: z.codec(z.string(), z.array(z.string()), {
    decode: text => (text === '' ? [] : text.split(' ')),
    encode: keys => keys.join(' '),
  }),
  errorStreak: z.number().int().nonnegative(),
  lastError: pollErrorSchema.optional(),
  expireAt: time.optional(),
});

const storedFields = storedWatch.partial();

/** Watch fields no query uses alone: exempt from automatic indexes (infra/firestore.tf holds the two together). */
export const UNINDEXED_WATCH_FIELDS = [
  'baseline',
  'nextListAt',
  'lastListedAt',
  'updatedAt',
  'createdAt',
  'finishedAt',
  'deadline',
  'lastError',
  'labels',
  'scopes',
  'filter',
  'bucket',
] as const;

/**
 * The key completion events find a watch by: the service name its audit entries carry (the preset's, else the
 * host) and the parent, as completions/ rebuilds it from an entry's operation name.
 */
export function parentKeyOf(service: string, parent: string): string {
  const serviceName = presetFor(service)?.completionEvents?.serviceName;
  return `${serviceName ?? service} ${parent}`;
}

/** Thrown for a stored document that is not a watch this version can read. */
export class CorruptWatchError extends Error {}

/**
 * Reads a stored watch.
 * @throws CorruptWatchError when the document does not fit the stored schema.
 */
export function readWatch(snapshot: DocumentSnapshot): Watch {
  const parsed = storedWatch.safeParse(snapshot.data());
  if (!parsed.success)
    throw new CorruptWatchError(unreadable('watch', parsed.error));
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the index fields are not part of the watch
  const {expireAt, key, parentKey, bucket, ...fields} = parsed.data;
  return {...fields, id: snapshot.id};
}

/**
 * Encodes watch fields as stored: a whole watch (it has its id) with its bucket and lookup keys; a watch that ends
 * gets its `expireAt`, after which the TTL policy deletes it.
 */
export function toWatchDocument(
  fields: Partial<Watch>,
  retentionMs: number,
): Record<string, unknown> {
  const {id, ...stored} = fields;
  const whole = id !== undefined && {
    bucket: bucketOf(id),
    key: watchKey(fields as Watch, fields.owner!),
    parentKey: parentKeyOf(fields.service!, fields.parent!),
  };
  const document: Record<string, unknown> = storedFields.encode({
    ...stored,
    ...whole,
  });
  if (fields.state !== undefined && fields.state !== 'active') {
    const finishedAt = fields.finishedAt ?? fields.updatedAt ?? Date.now();
    document.expireAt = Timestamp.fromMillis(finishedAt + retentionMs);
  }
  return document;
}
