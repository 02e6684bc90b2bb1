/**
 * The OpenAPI 3.1 description of the registration API (function target `operations`), served at
 * `GET /openapi.json`, and of the notification it leads to.
 *
 * Schemas are JSON Schema 2020-12, as OpenAPI 3.1 has them, so a standard validator checks real answers against
 * them: the tests hold this document to the handler (every route it serves, every answer's shape) and to the
 * notification builder. Limits come from the code that enforces them where it exports them.
 */
import {STATES, type PollError} from '../model';
import {
  MAX_LABELS,
  MAX_NAME_LENGTH,
  MAX_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  formatDuration,
} from './validation';

/** A JSON Schema (2020-12) as OpenAPI 3.1 uses it; `$ref`s point into `#/components/schemas`. */
export interface Schema {
  $ref?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  enum?: readonly (string | number)[];
  const?: string | number | boolean;
  format?: string;
  contentEncoding?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: readonly string[];
  /** Properties that require others when present (JSON Schema 2020-12). */
  dependentRequired?: Record<string, readonly string[]>;
  additionalProperties?: boolean | Schema;
  patternProperties?: Record<string, Schema>;
  propertyNames?: Schema;
  maxProperties?: number;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  not?: Schema;
  examples?: unknown[];
}

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

const ref = (name: string): Schema => ({$ref: `#/components/schemas/${name}`});
const json = (schema: Schema) => ({'application/json': {schema}});
const errorResponse = (description: string): ResponseObject => ({
  description,
  content: json(ref('Error')),
});

/** Every value of a union, checked complete at compile time. */
const allOf =
  <T>() =>
  <A extends readonly T[]>(
    values: A & ([T] extends [A[number]] ? unknown : never),
  ) =>
    values;

const POLL_ERROR_KINDS = allOf<PollError['kind']>()([
  'http',
  'network',
  'invalid',
  'untrusted',
  'publish',
  'deadline',
] as const);
const OUTCOMES = STATES.filter(s => s !== 'pending' && s !== 'cancelled');

const DURATION = '^\\d{1,10}(\\.\\d{1,9})?s$';
const LABEL_KEY = '^[a-z][a-z0-9_-]{0,62}$';
const ID = '^[0-9a-f]{32}$';
const RFC3339: Schema = {type: 'string', format: 'date-time'};

const schemas: Record<string, Schema> = {
  Duration: {
    type: 'string',
    pattern: DURATION,
    description:
      'A google.protobuf.Duration in its JSON form: seconds with up to 9 decimals and an "s", e.g. "3600s".',
    examples: ['3600s', '1.5s'],
  },
  Labels: {
    type: 'object',
    description: `Up to ${MAX_LABELS} labels, copied to the notification (and to its attributes as label_KEY).`,
    propertyNames: {pattern: LABEL_KEY},
    additionalProperties: {type: 'string', maxLength: 256},
    maxProperties: MAX_LABELS,
  },
  State: {
    type: 'string',
    enum: STATES,
    description:
      'Where a watch stands; everything but pending is final. A cancelled watch publishes nothing.',
  },
  Outcome: {
    type: 'string',
    enum: OUTCOMES,
    description: 'The final state a notification reports.',
  },
  Status: {
    type: 'object',
    description: 'google.rpc.Status.',
    properties: {
      code: {type: 'integer'},
      message: {type: 'string'},
      details: {type: 'array', items: {type: 'object'}},
    },
  },
  Operation: {
    type: 'object',
    description:
      "The operation resource exactly as the service's operations.get returned it: google.longrunning.Operation " +
      '(name, metadata, done, error or response), or the status-done shape of Compute Engine and Cloud SQL Admin.',
    properties: {
      name: {type: 'string'},
      metadata: {type: 'object'},
      done: {type: 'boolean'},
      error: {type: 'object'},
      response: {type: 'object'},
    },
    additionalProperties: true,
  },
  PollError: {
    type: 'object',
    description: 'Why the last poll did not yield the operation.',
    required: ['kind', 'message'],
    additionalProperties: false,
    properties: {
      kind: {type: 'string', enum: POLL_ERROR_KINDS},
      status: {type: 'integer', description: 'The HTTP status answered.'},
      message: {type: 'string'},
      body: {
        type: 'string',
        maxLength: 2048,
        description: "The start of the answer's body.",
      },
    },
  },
  PollPolicyRequest: {
    type: 'object',
    description:
      'Backoff between polls: initialDelay x multiplier^(n-1), capped at maxDelay, less a random share of up to ' +
      'jitter of it. Defaults: 1s, 1.25, 60s, 0.2.',
    additionalProperties: false,
    properties: {
      initialDelay: ref('Duration'),
      multiplier: {type: 'number', minimum: 1, maximum: 10},
      maxDelay: ref('Duration'),
      jitter: {type: 'number', minimum: 0, maximum: 1},
    },
  },
  PollPolicy: {
    type: 'object',
    additionalProperties: false,
    required: ['initialDelay', 'multiplier', 'maxDelay', 'jitter'],
    properties: {
      initialDelay: ref('Duration'),
      multiplier: {type: 'number'},
      maxDelay: ref('Duration'),
      jitter: {type: 'number'},
    },
  },
  RegistrationRequest: {
    type: 'object',
    description:
      'The operation to watch, as its URL (`operation`) or as `service` and `name` (and optionally `version`, ' +
      "else the service's default), and where and how to report its end.",
    additionalProperties: false,
    properties: {
      operation: {
        type: 'string',
        maxLength: 2048,
        pattern: '^https://',
        description:
          'https://{service}/{version}/{name}, on a *.googleapis.com host (or one in ENDPOINT_OVERRIDES).',
      },
      service: {
        type: 'string',
        maxLength: 253,
        description: 'API host, e.g. firestore.googleapis.com.',
      },
      name: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_NAME_LENGTH,
        description:
          "Operation name, fitting the service's operations.get template, e.g. " +
          'projects/P/databases/D/operations/X.',
      },
      version: {
        type: 'string',
        maxLength: 64,
        pattern: '^([a-z][a-z0-9]*/)?v\\d+[a-z0-9]*$',
        description: 'API version path, e.g. v1, v1beta or compute/v1.',
      },
      topic: {
        type: 'string',
        maxLength: 512,
        description:
          "Topic id (in opwatch's project) or projects/P/topics/T; default: the configured DEFAULT_TOPIC.",
      },
      labels: ref('Labels'),
      timeout: {
        allOf: [ref('Duration')],
        description: `How long to watch before giving up with expired: 1s to ${formatDuration(MAX_TIMEOUT_MS)}; default ${formatDuration(DEFAULT_TIMEOUT_MS)}.`,
      },
      pollPolicy: ref('PollPolicyRequest'),
      scopes: {
        type: 'array',
        minItems: 1,
        maxItems: 20,
        items: {
          type: 'string',
          pattern: '^https://www\\.googleapis\\.com/auth/',
        },
        description:
          "OAuth scopes the poller asks for: a subset of those the service's operations.get accepts; default: " +
          "the service's preset (cloud-platform for most).",
      },
      subject: {
        type: 'string',
        format: 'email',
        maxLength: 254,
        description:
          'A user the poller acts as through domain-wide delegation (Google Workspace APIs); requires "scopes" ' +
          '(those the admin authorised). Needs key-based service-account credentials; others end the watch ' +
          'with poll_error.',
      },
    },
    dependentRequired: {subject: ['scopes']},
    oneOf: [
      {
        required: ['operation'],
        not: {
          anyOf: [
            {required: ['service']},
            {required: ['name']},
            {required: ['version']},
          ],
        },
      },
      {required: ['service', 'name'], not: {required: ['operation']}},
    ],
  },
  Registration: {
    type: 'object',
    description: 'A registration as the API shows it: times in RFC 3339.',
    additionalProperties: false,
    required: [
      'id',
      'state',
      'operationUrl',
      'service',
      'version',
      'name',
      'topic',
      'labels',
      'timeout',
      'scopes',
      'attempts',
      'createdAt',
      'updatedAt',
      'deadline',
    ],
    properties: {
      id: {type: 'string', pattern: ID},
      state: ref('State'),
      operationUrl: {type: 'string', pattern: '^https://'},
      service: {type: 'string'},
      version: {type: 'string'},
      name: {type: 'string'},
      topic: {type: 'string', pattern: '^projects/[^/]+/topics/[^/]+$'},
      labels: ref('Labels'),
      timeout: ref('Duration'),
      scopes: {type: 'array', items: {type: 'string'}},
      subject: {type: 'string', format: 'email'},
      pollPolicy: ref('PollPolicy'),
      attempts: {type: 'integer', minimum: 0, description: 'Polls made.'},
      createdAt: RFC3339,
      updatedAt: RFC3339,
      deadline: {...RFC3339, description: 'When the watch gives up.'},
      lastPolledAt: RFC3339,
      nextPollAt: {...RFC3339, description: 'Only while pending.'},
      finishedAt: RFC3339,
      progressPercent: {
        type: 'number',
        minimum: 0,
        maximum: 100,
        description:
          'Share of the work done, as the operation last reported it. Only while pending, when it reports one.',
      },
      estimatedDoneAt: {
        ...RFC3339,
        description:
          'When the operation will likely be done, from its progress or how long its kind took before. Only while pending, when known.',
      },
      lastError: ref('PollError'),
      lastOperation: {
        allOf: [ref('Operation')],
        description:
          'The latest operation the API returned (only its name and done when it was over 256 KiB).',
      },
    },
  },
  RegistrationList: {
    type: 'object',
    additionalProperties: false,
    required: ['registrations'],
    properties: {
      registrations: {type: 'array', items: ref('Registration')},
      nextPageToken: {
        type: 'string',
        description: 'Pass as pageToken for the next page; absent on the last.',
      },
    },
  },
  Error: {
    type: 'object',
    description:
      'Every error answer, in the shape Google APIs use. 400s about fields name the first as `field` and all in ' +
      '`details`.',
    additionalProperties: false,
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'status', 'message'],
        properties: {
          code: {type: 'integer', minimum: 400, maximum: 599},
          status: {
            type: 'string',
            examples: ['INVALID_ARGUMENT', 'NOT_FOUND', 'UNAVAILABLE'],
          },
          message: {type: 'string'},
          field: {type: 'string'},
          details: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['field', 'message'],
              properties: {
                field: {type: 'string'},
                message: {type: 'string'},
              },
            },
          },
        },
      },
    },
  },
  Notification: {
    type: 'object',
    description:
      "The JSON in the data of the one Pub/Sub message published when a watch ends (not when it's cancelled). " +
      'A message that would exceed 10 MB goes without operation.response and operation.metadata, with the ' +
      'attribute truncated = "true".',
    additionalProperties: false,
    required: [
      'registrationId',
      'outcome',
      'service',
      'operationUrl',
      'labels',
      'registeredAt',
      'finishedAt',
      'attempts',
    ],
    properties: {
      registrationId: {type: 'string', pattern: ID},
      outcome: ref('Outcome'),
      service: {type: 'string'},
      operationUrl: {type: 'string', pattern: '^https://'},
      operation: {
        allOf: [ref('Operation')],
        description:
          'As the API returned it; for expired, not_found and poll_error the last one seen, if any.',
      },
      labels: ref('Labels'),
      registeredAt: RFC3339,
      finishedAt: RFC3339,
      attempts: {type: 'integer', minimum: 0},
      pollError: {
        allOf: [ref('PollError')],
        description: 'For expired, not_found and poll_error.',
      },
    },
  },
  NotificationAttributes: {
    type: 'object',
    description:
      'The attributes of the notification message, for subscription filters, e.g. ' +
      'attributes.outcome != "succeeded" or attributes.registrationId = "ID".',
    required: ['outcome', 'registrationId', 'service', 'operationName'],
    additionalProperties: false,
    properties: {
      outcome: ref('Outcome'),
      registrationId: {type: 'string', pattern: ID},
      service: {type: 'string'},
      operationName: {type: 'string'},
      errorCode: {
        type: 'string',
        pattern: '^-?\\d+$',
        description: "A failed operation's google.rpc code.",
      },
      truncated: {type: 'string', const: 'true'},
    },
    patternProperties: {'^label_': {type: 'string'}},
  },
  PubSubPushEnvelope: {
    type: 'object',
    description: 'How a Pub/Sub push subscription delivers the notification.',
    required: ['message', 'subscription'],
    properties: {
      subscription: {type: 'string'},
      message: {
        type: 'object',
        required: ['data', 'attributes', 'messageId', 'publishTime'],
        properties: {
          data: {
            type: 'string',
            contentEncoding: 'base64',
            description: 'Base64 of the Notification JSON.',
          },
          attributes: ref('NotificationAttributes'),
          messageId: {type: 'string'},
          publishTime: RFC3339,
        },
      },
    },
  },
};

const idParameter: Parameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Registration id: 32 hex digits.',
  schema: {type: 'string', pattern: ID},
};

const responses: Record<string, ResponseObject> = {
  Registration: {
    description: 'The registration.',
    content: json(ref('Registration')),
  },
  InvalidArgument: errorResponse(
    'The request is invalid: `field` and `details` name what to fix. Nothing was stored.',
  ),
  NotFound: errorResponse('No such registration.'),
  MethodNotAllowed: {
    description:
      'A method the path does not serve (any not listed in this document); the Allow header lists those it does.',
    headers: {
      Allow: {description: 'The methods served.', schema: {type: 'string'}},
    },
    content: json(ref('Error')),
  },
  Unavailable: errorResponse('The registration store is unavailable; retry.'),
  Error: errorResponse(
    'Any other error: 404 for a path not in this document, 405 for a method not listed on a path, 500.',
  ),
};

/** The registration API as served by the `operations` function. */
export const OPENAPI_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.0',
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  info: {
    title: 'opwatch registration API',
    version: '0.1.0',
    description:
      'Register a Google Cloud long-running operation; opwatch polls it and publishes one Pub/Sub message ' +
      '(schema Notification, attributes NotificationAttributes) when it ends. Errors are JSON (schema Error) ' +
      'with the status Google APIs use. A method a path does not list answers 405 with an Allow header.',
  },
  servers: [
    {
      url: 'http://localhost:8080',
      description: 'the local stack (npm start); needs no token',
    },
  ],
  security: [{googleIdToken: []}],
  tags: [
    {name: 'registrations', description: 'Watch operations.'},
    {name: 'meta', description: 'This description.'},
  ],
  paths: {
    '/operations': {
      post: {
        operationId: 'register',
        tags: ['registrations'],
        summary: 'Register an operation',
        description:
          'Registering the same operation for the same topic again answers 200 with the existing registration ' +
          '(a cancelled one starts over: 201). The body may be at most 64 KiB.',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: ref('RegistrationRequest'),
              examples: {
                url: {
                  value: {
                    operation:
                      'https://firestore.googleapis.com/v1/projects/my-proj/databases/(default)/operations/ASA3NDEw',
                    labels: {team: 'data'},
                    timeout: '3600s',
                  },
                },
                serviceAndName: {
                  value: {
                    service: 'workspaceevents.googleapis.com',
                    name: 'operations/c3Vic2NyaXB0aW9ucy8xMjM',
                    scopes: [
                      'https://www.googleapis.com/auth/chat.spaces.readonly',
                    ],
                    subject: 'alice@example.com',
                  },
                },
              },
            },
          },
        },
        responses: {
          '201': {
            description: 'Registered.',
            headers: {
              Location: {
                description: '/operations/{id}',
                schema: {type: 'string'},
              },
            },
            content: json(ref('Registration')),
          },
          '200': {
            description: 'Already registered (same operation and topic).',
            headers: {
              Location: {
                description: '/operations/{id}',
                schema: {type: 'string'},
              },
            },
            content: json(ref('Registration')),
          },
          '400': {$ref: '#/components/responses/InvalidArgument'},
          '413': errorResponse('The body is over 64 KiB.'),
          '415': errorResponse(
            'Not Content-Type: application/json (or not UTF-8).',
          ),
          '503': {$ref: '#/components/responses/Unavailable'},
          default: {$ref: '#/components/responses/Error'},
        },
      },
      get: {
        operationId: 'list',
        tags: ['registrations'],
        summary: 'List registrations',
        description: 'A page of registrations in id order.',
        parameters: [
          {
            name: 'state',
            in: 'query',
            description: 'Only registrations in this state.',
            schema: ref('State'),
          },
          {
            name: 'pageSize',
            in: 'query',
            description: 'Registrations per page.',
            schema: {type: 'integer', minimum: 1, maximum: 1000, default: 50},
          },
          {
            name: 'pageToken',
            in: 'query',
            description: 'nextPageToken of the previous page.',
            schema: {type: 'string', maxLength: 512},
          },
        ],
        responses: {
          '200': {
            description: 'A page; nextPageToken unless it is the last.',
            content: json(ref('RegistrationList')),
          },
          '400': {$ref: '#/components/responses/InvalidArgument'},
          '503': {$ref: '#/components/responses/Unavailable'},
          default: {$ref: '#/components/responses/Error'},
        },
      },
    },
    '/operations/{id}': {
      parameters: [idParameter],
      get: {
        operationId: 'get',
        tags: ['registrations'],
        summary: 'Get a registration',
        responses: {
          '200': {$ref: '#/components/responses/Registration'},
          '404': {$ref: '#/components/responses/NotFound'},
          '503': {$ref: '#/components/responses/Unavailable'},
          default: {$ref: '#/components/responses/Error'},
        },
      },
      delete: {
        operationId: 'cancel',
        tags: ['registrations'],
        summary: 'Stop watching',
        description:
          'A pending registration becomes cancelled and publishes nothing; a finished one is left as it is.',
        responses: {
          '204': {description: 'Cancelled (or already finished).'},
          '404': {$ref: '#/components/responses/NotFound'},
          '503': {$ref: '#/components/responses/Unavailable'},
          default: {$ref: '#/components/responses/Error'},
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        tags: ['meta'],
        summary: 'This OpenAPI description',
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 document.',
            content: json({type: 'object'}),
          },
          default: {$ref: '#/components/responses/Error'},
        },
      },
    },
  },
  webhooks: {
    notification: {
      post: {
        operationId: 'notification',
        summary: 'The notification, as a Pub/Sub push subscription delivers it',
        description:
          'opwatch publishes to Pub/Sub; a push subscription on the topic POSTs this envelope. Pull subscribers ' +
          'get the same data (schema Notification) and attributes (schema NotificationAttributes).',
        requestBody: {
          required: true,
          content: json(ref('PubSubPushEnvelope')),
        },
        responses: {
          '204': {description: 'Acknowledged: any 2xx acknowledges.'},
        },
      },
    },
  },
  components: {
    schemas,
    responses,
    parameters: {id: idParameter},
    securitySchemes: {
      googleIdToken: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'A Google-signed ID token whose audience is the function URL, for a principal with ' +
          'roles/run.invoker on it (e.g. gcloud auth print-identity-token). Not needed on the local stack.',
      },
    },
  },
};
