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

const logEntrySchema = z.object({
  operation: z.object({
    id: z.string().min(1),
    producer: z.string().optional(),
    first: z.boolean().optional(),
    last: z.boolean().optional(),
  }),
  protoPayload: z.object({
    serviceName: z.string().min(1),
    methodName: z.string().optional(),
    resourceName: z.string().optional(),
  }),
  resource: z
    .object({
      type: z.string().optional(),
      labels: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  timestamp: z.string().optional(),
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
