/**
 * The notification: the public contract between opwatch and the services subscribed to its topics.
 *
 * One Pub/Sub message per finished registration. `data` is UTF-8 JSON ({@link NotificationPayload}); the
 * attributes repeat what subscription filters route on. Pure: building a message does no I/O.
 */
import type {Operation, Outcome, PollError, Registration} from '../model';

/** Pub/Sub's limit on one message (data plus attributes). */
export const MAX_MESSAGE_BYTES = 10_000_000;
/** Room left for attribute encoding and the request envelope. */
const ENVELOPE_BYTES = 4096;

/** The JSON in a notification's data. */
export interface NotificationPayload {
  registrationId: string;
  outcome: Outcome;
  service: string;
  operationUrl: string;
  /** The Operation exactly as the API returned it; for expired, not_found and poll_error the last one seen. */
  operation?: Operation;
  labels: Record<string, string>;
  /** RFC 3339. */
  registeredAt: string;
  /** RFC 3339. */
  finishedAt: string;
  /** Polls made. */
  attempts: number;
  /** Why the watch ended without a result: for expired, not_found and poll_error. */
  pollError?: PollError;
}

/** A message ready for Pub/Sub. */
export interface Notification {
  data: Buffer;
  attributes: Record<string, string>;
}

/** What the watch ended with. */
export interface Ending {
  outcome: Outcome;
  finishedAt: number;
  attempts: number;
  operation?: Operation;
  pollError?: PollError;
}

function size(notification: Notification): number {
  const attributes = Object.entries(notification.attributes).reduce(
    (total, [key, value]) =>
      total + Buffer.byteLength(key) + Buffer.byteLength(value),
    0,
  );
  return notification.data.byteLength + attributes + ENVELOPE_BYTES;
}

/** The google.rpc code of a failed operation, when it has one. */
function errorCode(operation: Operation | undefined): number | undefined {
  const code = operation?.error?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Builds the message for a registration that ended. A message over {@link MAX_MESSAGE_BYTES} goes without the
 * operation's `response` and `metadata` and with attribute `truncated: "true"`; the consumer can fetch the
 * operation itself.
 */
export function buildNotification(
  registration: Registration,
  ending: Ending,
): Notification {
  const payload: NotificationPayload = {
    registrationId: registration.id,
    outcome: ending.outcome,
    service: registration.operation.service,
    operationUrl: registration.operation.url,
    ...(ending.operation !== undefined && {operation: ending.operation}),
    labels: registration.labels,
    registeredAt: new Date(registration.createdAt).toISOString(),
    finishedAt: new Date(ending.finishedAt).toISOString(),
    attempts: ending.attempts,
    ...(ending.pollError !== undefined && {pollError: ending.pollError}),
  };
  const attributes: Record<string, string> = {
    outcome: ending.outcome,
    registrationId: registration.id,
    service: registration.operation.service,
    operationName: registration.operation.name,
  };
  const code =
    ending.outcome === 'failed' ? errorCode(ending.operation) : undefined;
  if (code !== undefined) attributes.errorCode = String(code);
  for (const [key, value] of Object.entries(registration.labels))
    attributes[`label_${key}`] = value;

  const full = {data: Buffer.from(JSON.stringify(payload)), attributes};
  if (size(full) <= MAX_MESSAGE_BYTES || !payload.operation) return full;

  const slim: Operation = {...payload.operation};
  delete slim.response;
  delete slim.metadata;
  let operation = slim;
  const truncated = {...payload, operation};
  let data = Buffer.from(JSON.stringify(truncated));
  if (data.byteLength + ENVELOPE_BYTES > MAX_MESSAGE_BYTES) {
    // Even the error alone is too large (huge details): keep what identifies the outcome.
    const error = slim.error && {
      code: slim.error.code,
      message: slim.error.message?.slice(0, 4096),
    };
    operation = {name: slim.name, done: slim.done, ...(error && {error})};
    data = Buffer.from(JSON.stringify({...payload, operation}));
  }
  return {data, attributes: {...attributes, truncated: 'true'}};
}

/** Reads a notification's data back; for consumers and tests. */
export function parseNotification(data: Buffer | string): NotificationPayload {
  return JSON.parse(data.toString()) as NotificationPayload;
}
