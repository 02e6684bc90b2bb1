/**
 * The notification: the public contract between opwatch and the services subscribed to its topics.
 *
 * One Pub/Sub message per finished registration. `data` is UTF-8 JSON ({@link NotificationPayload}); the
 * attributes repeat what subscription filters route on. Pure: building a message does no I/O.
 */
import {z} from 'zod';
import {
  operationSchema,
  outcomeSchema,
  pollErrorSchema,
  type Operation,
  type Outcome,
  type PollError,
  type Registration,
} from '../core/model';
import {
  labelsSchema,
  registrationIdSchema,
  timestampSchema,
} from '../core/schemas';

/** Pub/Sub's limit on one message (data plus attributes). */
export const MAX_MESSAGE_BYTES = 10_000_000;
/** Room left for attribute encoding and the request envelope. */
const ENVELOPE_BYTES = 4096;

/** The JSON in a notification's data. */
export const notificationPayloadSchema = z
  .object({
    registrationId: registrationIdSchema,
    outcome: outcomeSchema,
    owner: z.string().meta({
      description:
        "Who registered the operation: the caller's verified e-mail, or anonymous where ALLOW_UNAUTHENTICATED=true.",
    }),
    tenant: z.string().optional().meta({
      description: "The owner's tenant (TENANTS); absent without tenants.",
    }),
    service: z.string(),
    operationUrl: z.string(),
    watchId: registrationIdSchema.optional().meta({
      description:
        'The watch (POST /watches) that found the operation under its parent; absent for a registration made directly.',
    }),
    operation: operationSchema.optional().meta({
      description:
        'As the API returned it; for expired, not_found and poll_error the last one seen, if any.',
    }),
    labels: labelsSchema,
    registeredAt: timestampSchema,
    finishedAt: timestampSchema,
    attempts: z.int().min(0).meta({description: 'Polls made.'}),
    pollError: pollErrorSchema.optional().meta({
      description:
        'Why the watch ended without a result: for expired, not_found and poll_error.',
    }),
  })
  .meta({
    description:
      "The JSON in the data of the one Pub/Sub message published when a watch ends (not when it's cancelled). " +
      'A message that would exceed 10 MB goes without operation.response and operation.metadata, with the ' +
      'attribute truncated = "true".',
  });
export type NotificationPayload = z.infer<typeof notificationPayloadSchema>;

/**
 * The CloudEvents `type` of a notification: one per outcome, under opwatch's reverse-DNS namespace, e.g.
 * `dev.opwatch.operation.v1.succeeded`.
 */
export const CLOUD_EVENT_TYPE_PREFIX = 'dev.opwatch.operation.v1.';
export const cloudEventTypeSchema = z
  .enum(
    outcomeSchema.options.map(
      outcome => `${CLOUD_EVENT_TYPE_PREFIX}${outcome}`,
    ),
  )
  .meta({
    description:
      'The CloudEvents type: dev.opwatch.operation.v1.<outcome>. An undeliverable watch has no notification on ' +
      'its topic; its dead-lettered copy keeps the type of the outcome it reported.',
  });

/** The CloudEvents id of a watch's notification: the registration and the watch's start, the same on a republish. */
export function cloudEventId(registration: Registration): string {
  return `${registration.id}-${registration.createdAt}`;
}

/**
 * The notification's CloudEvents attributes, in the binary content mode of the CloudEvents Pub/Sub protocol
 * binding: each context attribute as a `ce-` attribute, the data's media type as `content-type`.
 */
const cloudEventAttributes = {
  'ce-specversion': z.literal('1.0'),
  'ce-id': z.string().meta({
    description:
      'registrationId-<epoch ms the watch started>: the same for every delivery and republish of one ' +
      "watch's notification, different for the next watch of the same operation. Deduplicate on it.",
  }),
  'ce-source': z.string().meta({
    description:
      'The watched API: //<service>, e.g. //firestore.googleapis.com.',
  }),
  'ce-type': cloudEventTypeSchema,
  'ce-subject': z
    .string()
    .meta({description: "The operation's name, as operationName."}),
  'ce-time': timestampSchema.meta({
    description: 'When the watch ended: finishedAt of the data.',
  }),
  'content-type': z.literal('application/json'),
};

/** The attributes of a notification message: what subscription filters route on. */
export const notificationAttributesSchema = z
  .object({
    ...cloudEventAttributes,
    outcome: outcomeSchema,
    registrationId: z.string(),
    owner: z.string().meta({description: 'As in the data.'}),
    tenant: z
      .string()
      .optional()
      .meta({description: 'As in the data; absent without tenants.'}),
    service: z.string(),
    operationName: z.string(),
    watchId: z
      .string()
      .optional()
      .meta({description: 'As in the data; absent without a watch.'}),
    errorCode: z
      .string()
      .regex(/^-?\d+$/)
      .optional()
      .meta({description: "A failed operation's google.rpc code."}),
    truncated: z.literal('true').optional(),
  })
  .catchall(z.string())
  .meta({
    description:
      'The attributes of the notification message, for subscription filters, e.g. ' +
      'attributes.outcome != "succeeded", attributes.tenant = "team-a" or attributes.registrationId = "ID". ' +
      'Each label KEY is repeated as label_KEY. The ce- attributes and content-type make the message a ' +
      'CloudEvent (Pub/Sub binding, binary content mode) whose data is the Notification.',
  });
export type NotificationAttributes = z.infer<
  typeof notificationAttributesSchema
>;

/** A message ready for Pub/Sub. */
export interface Notification {
  data: Buffer;
  attributes: NotificationAttributes;
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
    owner: registration.owner,
    ...(registration.tenant !== undefined && {tenant: registration.tenant}),
    service: registration.operation.service,
    operationUrl: registration.operation.url,
    ...(registration.watchId !== undefined && {
      watchId: registration.watchId,
    }),
    ...(ending.operation !== undefined && {operation: ending.operation}),
    labels: registration.labels,
    registeredAt: new Date(registration.createdAt).toISOString(),
    finishedAt: new Date(ending.finishedAt).toISOString(),
    attempts: ending.attempts,
    ...(ending.pollError !== undefined && {pollError: ending.pollError}),
  };
  const attributes: NotificationAttributes = {
    'ce-specversion': '1.0',
    'ce-id': cloudEventId(registration),
    'ce-source': `//${registration.operation.service}`,
    'ce-type': `${CLOUD_EVENT_TYPE_PREFIX}${ending.outcome}`,
    'ce-subject': registration.operation.name,
    'ce-time': payload.finishedAt,
    'content-type': 'application/json',
    outcome: ending.outcome,
    registrationId: registration.id,
    owner: registration.owner,
    ...(registration.tenant !== undefined && {tenant: registration.tenant}),
    service: registration.operation.service,
    operationName: registration.operation.name,
    ...(registration.watchId !== undefined && {
      watchId: registration.watchId,
    }),
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

/**
 * Reads a notification's data back, checked against the schema; for consumers and tests.
 * @throws a ZodError for data that is not a notification.
 */
export function parseNotification(data: Buffer | string): NotificationPayload {
  return notificationPayloadSchema.parse(JSON.parse(data.toString()));
}
