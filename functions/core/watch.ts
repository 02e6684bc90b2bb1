/**
 * A watch of a parent: every operation under `{parent}/operations` of one service, found by listing it
 * (`ListOperations`) rather than registered one by one. The API's shapes of it are defined here once (the request,
 * the view, a page), as registrations' are in schemas.ts, and so are the ids that tie a watch to the registrations
 * it makes.
 */
import {createHash, randomBytes} from 'node:crypto';
import {z} from 'zod';
import type {OperationStyle} from './presets';
import {pollErrorSchema, type PollError} from './model';
import {
  DEFAULT_TIMEOUT_MS,
  MAX_PAGE_SIZE,
  MAX_TIMEOUT_MS,
  durationSchema,
  durationWithin,
  formatDuration,
  labelsSchema,
  registrationIdSchema,
  timestampSchema,
} from './schemas';
import {TENANT_NAME} from './tenants';

/** Where a watch stands: `active` lists; the others are final. */
export const WATCH_STATES = [
  'active',
  'cancelled',
  'expired',
  'poll_error',
] as const;
export const watchStateSchema = z.enum(WATCH_STATES).meta({
  description:
    'Where a watch stands: active lists its parent; cancelled (DELETE), expired (its timeout passed) and ' +
    'poll_error (its list kept failing, or the allowlists no longer allow it) are final.',
});
export type WatchState = z.infer<typeof watchStateSchema>;

/** A valid watch request, normalised. */
export interface NewWatch {
  /** API host, e.g. `firestore.googleapis.com`. */
  service: string;
  /** Path before the parent, e.g. `v1`. */
  version: string;
  /** The parent whose operations are listed, e.g. `projects/p/databases/(default)`. */
  parent: string;
  /** Passed through as ListOperations' `filter`. */
  filter?: string;
  /** Full topic name. */
  topic: string;
  labels: Record<string, string>;
  /** How long the watch lists before it ends `expired`. */
  timeoutMs: number;
  scopes: string[];
  style: OperationStyle;
}

/** A watch as stored and as the API shows it. Times are epoch milliseconds. */
export interface Watch extends NewWatch {
  id: string;
  owner: string;
  tenant?: string;
  state: WatchState;
  createdAt: number;
  updatedAt: number;
  deadline: number;
  /** When the poller lists the parent next. */
  nextListAt: number;
  lastListedAt?: number;
  finishedAt?: number;
  /** Lists made so far; the first one takes the baseline. */
  lists: number;
  /** Keys ({@link operationKey}) of the operations already done at the first list: never notified. */
  baseline: string[];
  /** Lists in a row that failed. */
  errorStreak: number;
  lastError?: PollError;
}

/** A new watch's id: random, so a watch cancelled and made again starts afresh with registrations of its own. */
export function newWatchId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * What makes two watches the same: an active watch with this key is found again by a second `POST /watches`
 * rather than doubled (which would notify every operation twice).
 */
export function watchKey(
  watch: Pick<NewWatch, 'service' | 'version' | 'parent' | 'filter' | 'topic'>,
  owner: string,
): string {
  const {service, version, parent, filter, topic} = watch;
  return digest([service, version, parent, filter ?? '', topic, owner]);
}

/**
 * The id of the registration a watch makes for an operation: one per (operation, topic, owner, watch), so two lists
 * never make two, and a registration of the same operation made directly keeps its own id.
 */
export function watchedRegistrationId(
  operationUrl: string,
  topic: string,
  owner: string,
  watchId: string,
): string {
  return digest([operationUrl, topic, owner, watchId]);
}

/** A short key of an operation's name in a watch's baseline: 64 bits, so thousands fit one document. */
export function operationKey(name: string): string {
  return createHash('sha256').update(name).digest('base64url').slice(0, 11);
}

function digest(parts: string[]): string {
  return createHash('sha256')
    .update(parts.join('\n'))
    .digest('hex')
    .slice(0, 32);
}

/** The body of `POST /watches`; validateWatch (registration/watch-validation.ts) checks its rules. */
export const watchRequestSchema = z
  .strictObject({
    service: z
      .string()
      .max(253)
      .meta({description: 'API host, e.g. firestore.googleapis.com.'}),
    version: z
      .string()
      .max(64)
      .optional()
      .meta({description: "API version path; default: the service's."}),
    parent: z.string().max(1024).meta({
      description:
        'The resource whose operations are listed (GET {parent}/operations), e.g. projects/P/databases/(default).',
    }),
    filter: z.string().max(1024).optional().meta({
      description: "Passed through as ListOperations' filter.",
    }),
    topic: z.string().max(512).optional().meta({
      description:
        "Topic id (in opwatch's project) or projects/P/topics/T; default: the configured DEFAULT_TOPIC.",
    }),
    labels: labelsSchema.optional(),
    timeout: durationWithin(1000, MAX_TIMEOUT_MS)
      .optional()
      .meta({
        description: `How long the watch lists before it ends expired: 1s to ${formatDuration(MAX_TIMEOUT_MS)}; default ${formatDuration(DEFAULT_TIMEOUT_MS)}.`,
      }),
  })
  .meta({
    description:
      'A parent to watch: every operation under it that was not done when the watch began is notified once.',
  });
export type WatchRequest = z.output<typeof watchRequestSchema>;

/** A watch as the API shows it. */
export const watchViewSchema = z
  .object({
    id: registrationIdSchema,
    owner: z.string(),
    tenant: z.string().optional(),
    state: watchStateSchema,
    service: z.string(),
    version: z.string(),
    parent: z.string(),
    filter: z.string().optional(),
    topic: z.string(),
    labels: labelsSchema,
    timeout: durationSchema,
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
    deadline: timestampSchema,
    nextListAt: timestampSchema
      .optional()
      .meta({description: 'Only while active.'}),
    lastListedAt: timestampSchema.optional(),
    finishedAt: timestampSchema.optional(),
    lists: z.int().min(0).meta({description: 'Lists made so far.'}),
    lastError: pollErrorSchema.optional(),
  })
  .meta({description: 'A watch of a parent, as the API shows it.'});
export type WatchView = z.infer<typeof watchViewSchema>;

/** A page of `GET /watches`. */
export const watchListSchema = z.object({
  watches: z.array(watchViewSchema),
  nextPageToken: z.string().optional(),
});

/** The query of `GET /watches`. */
export const watchListQuerySchema = z.strictObject({
  state: watchStateSchema.optional(),
  pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(50),
  pageToken: z.string().max(512).optional(),
  tenant: z.string().regex(TENANT_NAME).optional(),
});

/** A watch as the API shows it. */
export function toWatchView(watch: Watch): WatchView {
  const iso = (ms: number | undefined) =>
    ms === undefined ? undefined : new Date(ms).toISOString();
  const view = {
    id: watch.id,
    owner: watch.owner,
    tenant: watch.tenant,
    state: watch.state,
    service: watch.service,
    version: watch.version,
    parent: watch.parent,
    filter: watch.filter,
    topic: watch.topic,
    labels: watch.labels,
    timeout: formatDuration(watch.timeoutMs),
    createdAt: iso(watch.createdAt)!,
    updatedAt: iso(watch.updatedAt)!,
    deadline: iso(watch.deadline)!,
    nextListAt: watch.state === 'active' ? iso(watch.nextListAt) : undefined,
    lastListedAt: iso(watch.lastListedAt),
    finishedAt: iso(watch.finishedAt),
    lists: watch.lists,
    lastError: watch.lastError,
  };
  // Leaves absent fields out rather than keeping them as undefined keys.
  return JSON.parse(JSON.stringify(view)) as WatchView;
}
