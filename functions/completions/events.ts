/**
 * Reading the two kinds of CloudEvent that carry an audit-log entry: Eventarc's audit-log event
 * (`google.cloud.audit.log.v1.written`, the LogEntry as `data`) and a Logging sink's Pub/Sub message
 * (`google.cloud.pubsub.topic.v1.messagePublished`, the LogEntry as base64 JSON in `data.message.data`).
 */
import {z} from 'zod';

/** Eventarc's type for an audit-log entry. */
export const AUDIT_LOG_WRITTEN = 'google.cloud.audit.log.v1.written';
/** The type of a Pub/Sub message, from Eventarc or the Functions Framework's conversion of a push request. */
export const PUBSUB_MESSAGE_PUBLISHED =
  'google.cloud.pubsub.topic.v1.messagePublished';

/**
 * Bounds on what an entry's fields may hold: each is a name, a host or a short id, well within these, and anything
 * longer is not an entry of an operation opwatch watches. They keep a hostile event from costing more than its
 * parse (the body itself is bounded by http/body-limit.ts).
 */
export const EVENT_FIELD_LIMITS = {
  /** An operation's id: its full name (at most 1024 in a registration) or Compute's short id. */
  id: 1024,
  /** serviceName, producer, methodName, resource.type: hosts and method names. */
  name: 256,
  /** resourceName: the resource the call acted on. */
  resource: 2048,
  /** resource.labels: how many, and how long each key and value. */
  labels: 64,
  label: 256,
  timestamp: 64,
} as const;

const bounded = (max: number) => z.string().max(max);
const named = bounded(EVENT_FIELD_LIMITS.name);

const logEntrySchema = z.object({
  operation: z.object({
    id: bounded(EVENT_FIELD_LIMITS.id).min(1),
    producer: named.optional(),
    first: z.boolean().optional(),
    last: z.boolean().optional(),
  }),
  protoPayload: z.object({
    serviceName: named.min(1),
    methodName: named.optional(),
    resourceName: bounded(EVENT_FIELD_LIMITS.resource).optional(),
  }),
  resource: z
    .object({
      type: named.optional(),
      labels: z
        .record(
          bounded(EVENT_FIELD_LIMITS.label),
          bounded(EVENT_FIELD_LIMITS.label),
        )
        .refine(
          labels => Object.keys(labels).length <= EVENT_FIELD_LIMITS.labels,
          `at most ${EVENT_FIELD_LIMITS.labels} labels`,
        )
        .optional(),
    })
    .optional(),
  timestamp: bounded(EVENT_FIELD_LIMITS.timestamp).optional(),
});

/** The part of a Cloud Logging LogEntry opwatch reads. */
export type LogEntry = z.infer<typeof logEntrySchema>;

/** What an event holds, for the handler. */
export type ReadEvent =
  /** A completion entry: `operation.last` is true. */
  | {kind: 'completion'; entry: LogEntry}
  /** A well-formed entry that is not a completion (a first entry, an entry of a one-shot call). */
  | {kind: 'ignored'; reason: string}
  | {kind: 'malformed'; reason: string};

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Reads a CloudEvent's audit entry; never throws. */
export function readEvent(event: {type?: string; data?: unknown}): ReadEvent {
  const payload = entryPayload(event);
  if (typeof payload === 'string') return {kind: 'malformed', reason: payload};
  const parsed = logEntrySchema.safeParse(payload.entry);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      issue => `${issue.path.join('.') || 'entry'}: ${issue.message}`,
    );
    return {kind: 'malformed', reason: problems.join('; ')};
  }
  if (parsed.data.operation.last !== true)
    return {kind: 'ignored', reason: 'not the last entry of its operation'};
  return {kind: 'completion', entry: parsed.data};
}

/** The entry as parsed JSON, or why there is none. */
function entryPayload(event: {
  type?: string;
  data?: unknown;
}): {entry: unknown} | string {
  if (event.type === AUDIT_LOG_WRITTEN) {
    if (typeof event.data !== 'string') return {entry: event.data};
    return parseJson(event.data, 'data');
  }
  if (event.type === PUBSUB_MESSAGE_PUBLISHED) {
    const data = (event.data as {message?: {data?: unknown}} | undefined)
      ?.message?.data;
    if (typeof data !== 'string' || !BASE64.test(data))
      return 'data.message.data is not base64';
    return parseJson(
      Buffer.from(data, 'base64').toString('utf8'),
      'data.message.data',
    );
  }
  return `event type ${JSON.stringify(event.type)} is not an audit-log entry`;
}

function parseJson(text: string, where: string): {entry: unknown} | string {
  try {
    return {entry: JSON.parse(text) as unknown};
  } catch {
    return `${where} is not JSON`;
  }
}
