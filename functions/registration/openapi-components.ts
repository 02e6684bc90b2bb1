/**
 * The OpenAPI 3.1 building blocks of functions/registration/openapi.ts: the document's types, and its component
 * schemas and parameters generated with `z.toJSONSchema` from the zod definitions the code parses and builds with
 * (functions/core/schemas.ts, functions/notify/notification.ts, functions/core/model.ts).
 */
import {z} from 'zod';
import {
  operationSchema,
  outcomeSchema,
  pollErrorSchema,
  stateSchema,
  statusSchema,
} from '../core/model';
import {
  notificationAttributesSchema,
  notificationPayloadSchema,
} from '../notify/notification';
import {corruptReportSchema} from '../notify/dead-letter';
import {
  durationSchema,
  errorBodySchema,
  labelsSchema,
  pollPolicyRequestSchema,
  pollPolicyViewSchema,
  previousWatchSchema,
  registrationListSchema,
  registrationRequestSchema,
  registrationViewSchema,
  timestampSchema,
} from '../core/schemas';
import {statsSchema} from '../core/stats';
import {
  watchListSchema,
  watchRequestSchema,
  watchStateSchema,
  watchViewSchema,
} from '../core/watch';

/** A JSON Schema (2020-12) as OpenAPI 3.1 uses it; `$ref`s point into `#/components/schemas`. */
export type Schema = z.core.JSONSchema.BaseSchema;

/** A parameter of an operation. */
export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description: string;
  schema: Schema;
}

/** A response, or a reference to one in `#/components/responses`. */
export type ResponseObject =
  | {$ref: string}
  | {
      description: string;
      headers?: Record<string, {description: string; schema: Schema}>;
      content?: Record<string, {schema: Schema}>;
    };

/** One HTTP method on one path. */
export interface OperationObject {
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: {
    required: boolean;
    content: Record<string, {schema: Schema; examples?: object}>;
  };
  responses: Record<string, ResponseObject>;
}

/** The HTTP methods a path item may hold. */
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** A path and its methods. */
export type PathItem = Partial<Record<HttpMethod, OperationObject>> & {
  parameters?: Parameter[];
};

/** The document. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  jsonSchemaDialect: string;
  info: {title: string; version: string; description: string};
  servers: {url: string; description: string}[];
  security: Record<string, string[]>[];
  tags: {name: string; description: string}[];
  paths: Record<string, PathItem>;
  webhooks: Record<string, PathItem>;
  components: {
    schemas: Record<string, Schema>;
    responses: Record<string, ResponseObject>;
    parameters: Record<string, Parameter>;
    securitySchemes: Record<string, object>;
  };
}

const pushEnvelopeSchema = z
  .looseObject({
    subscription: z.string(),
    message: z.looseObject({
      data: z.string().meta({
        contentEncoding: 'base64',
        description: 'Base64 of the Notification JSON.',
      }),
      attributes: notificationAttributesSchema,
      messageId: z.string(),
      publishTime: timestampSchema,
    }),
  })
  .meta({
    description: 'How a Pub/Sub push subscription delivers the notification.',
  });

/** Shared by requests and answers; a component name for each. */
const COMMON = {Duration: durationSchema, Labels: labelsSchema};

/** Read as the API reads them: the input side of their transforms. */
const REQUESTS = {
  ...COMMON,
  RegistrationRequest: registrationRequestSchema,
  PollPolicyRequest: pollPolicyRequestSchema,
  WatchRequest: watchRequestSchema,
};

/** Written by opwatch: closed objects, so a field the document does not know is an error. */
const ANSWERS = {
  ...COMMON,
  State: stateSchema,
  Outcome: outcomeSchema,
  Status: statusSchema,
  Operation: operationSchema,
  PollError: pollErrorSchema,
  PollPolicy: pollPolicyViewSchema,
  PreviousWatch: previousWatchSchema,
  Registration: registrationViewSchema,
  RegistrationList: registrationListSchema,
  WatchState: watchStateSchema,
  Watch: watchViewSchema,
  WatchList: watchListSchema,
  Error: errorBodySchema,
  Notification: notificationPayloadSchema,
  NotificationAttributes: notificationAttributesSchema,
  Stats: statsSchema,
  PubSubPushEnvelope: pushEnvelopeSchema,
  CorruptReport: corruptReportSchema,
};

/** The JSON Schemas of `schemas`, named by their keys and referring to each other as OpenAPI components. */
function componentSchemas(
  schemas: Record<string, z.ZodType>,
  io: 'input' | 'output',
): Record<string, Schema> {
  const registry = z.registry<{id: string}>();
  for (const [id, schema] of Object.entries(schemas))
    registry.add(schema, {id});
  const generated = z.toJSONSchema(registry, {
    io,
    uri: id => `#/components/schemas/${id}`,
  }).schemas;
  return Object.fromEntries(
    Object.entries(generated).map(([id, schema]) => {
      // A component is not a document of its own: no dialect or id of its own (the document's dialect applies).
      const component = {...schema};
      delete component.$schema;
      delete component.$id;
      return [id, component];
    }),
  );
}

/** Every component schema of the document; one shared by requests and answers must read the same both ways. */
export function generateComponentSchemas(): Record<string, Schema> {
  const requests = componentSchemas(REQUESTS, 'input');
  const answers = componentSchemas(ANSWERS, 'output');
  for (const id of Object.keys(COMMON)) {
    if (JSON.stringify(requests[id]) !== JSON.stringify(answers[id]))
      throw new Error(`schema ${id} differs between requests and answers`);
  }
  return {...requests, ...answers};
}

/** A parameter whose schema and description come from its zod definition. */
export function parameter(
  name: string,
  where: Parameter['in'],
  schema: z.ZodType,
): Parameter {
  const {description = '', ...generated} = z.toJSONSchema(schema, {
    io: 'input',
  });
  delete generated.$schema;
  return {
    name,
    in: where,
    ...(where === 'path' && {required: true}),
    description,
    schema: generated,
  };
}
