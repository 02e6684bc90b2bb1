/**
 * The OpenAPI 3.1 description of the registration API (function target `operations`), served at
 * `GET /openapi.json`, and of the notification it leads to.
 *
 * Every schema in it is generated with `z.toJSONSchema` from the zod definitions the code itself parses and
 * builds with (see ./openapi-components.ts), so the document cannot drift from the code; only the paths, their
 * answers and the prose are written here.
 */
import {
  generateComponentSchemas,
  parameter,
  type OpenApiDocument,
  type ResponseObject,
  type Schema,
} from './openapi-components';
import {listQuerySchema, registrationIdSchema} from '../core/schemas';
import {statsQuerySchema} from '../core/stats';
import {MAX_BODY_BYTES} from '../http/body-limit';
import {WATCH_PATHS} from './openapi-watches';

const MAX_BODY_KIB = MAX_BODY_BYTES / 1024;

const ref = (name: string): Schema => ({$ref: `#/components/schemas/${name}`});
const json = (schema: Schema) => ({'application/json': {schema}});
const errorResponse = (description: string): ResponseObject => ({
  description,
  content: json(ref('Error')),
});
const idParameter = parameter('id', 'path', registrationIdSchema);

const responses: Record<string, ResponseObject> = {
  Registration: {
    description: 'The registration.',
    content: json(ref('Registration')),
  },
  InvalidArgument: errorResponse(
    'The request is invalid: `field` and `details` name what to fix. Nothing was stored.',
  ),
  NotFound: errorResponse(
    "No such registration (another owner's answers the same, unless the caller is in ADMIN_PRINCIPALS).",
  ),
  Unauthenticated: errorResponse(
    "No valid Google-signed ID token in Authorization: Bearer (audience: the function's URL), or in " +
      'X-Serverless-Authorization when that is sent: it then names the caller. Not answered where ' +
      'ALLOW_UNAUTHENTICATED=true.',
  ),
  NoTenant: errorResponse(
    'PERMISSION_DENIED: TENANTS is set and the caller is in no tenant (nor in ADMIN_PRINCIPALS).',
  ),
  MethodNotAllowed: {
    description:
      'A method the path does not serve (any not listed in this document); the Allow header lists those it does.',
    headers: {
      Allow: {description: 'The methods served.', schema: {type: 'string'}},
    },
    content: json(ref('Error')),
  },
  Unavailable: errorResponse('The registration store is unavailable; retry.'),
  Unreadable: errorResponse(
    'The registration is stored in a form this version cannot read (the message says which fields): its watch ' +
      'ends poll_error (pollError.kind corrupt), reported on DEAD_LETTER_TOPIC. Registering the operation again ' +
      'starts a new watch in its place.',
  ),
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
      'with the status Google APIs use. A method a path does not list answers 405 with an Allow header. ' +
      "Callers send a Google-signed ID token (Authorization: Bearer, audience the function's URL) and see " +
      'only their own registrations, unless they are in ADMIN_PRINCIPALS.',
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
    {name: 'operations', description: 'How the deployment is doing.'},
    {name: 'watches', description: 'Watch every operation under a parent.'},
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
          'while it is pending. Once that watch has ended (any state but pending, cancelled included), a new ' +
          'watch starts: 201, with the state, finishedAt, attempts and lastError of the ended one in `previous`. ' +
          `The body may be at most ${MAX_BODY_KIB} KiB, uncompressed.`,
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
            description:
              'Registered: a new watch, or a new watch of an operation whose watch had ended (see `previous`).',
            headers: {
              Location: {
                description: '/operations/{id}',
                schema: {type: 'string'},
              },
            },
            content: json(ref('Registration')),
          },
          '200': {
            description:
              'Already watched: the pending registration of the same operation and topic.',
            headers: {
              Location: {
                description: '/operations/{id}',
                schema: {type: 'string'},
              },
            },
            content: json(ref('Registration')),
          },
          '400': {$ref: '#/components/responses/InvalidArgument'},
          '401': {$ref: '#/components/responses/Unauthenticated'},
          '403': errorResponse(
            'PERMISSION_DENIED: the operation, topic or subject is outside what the operator allows ' +
              '(WATCH_PROJECTS, WATCH_SERVICES, ALLOWED_TOPICS, DELEGATION_SUBJECTS, and the lists of the ' +
              "caller's tenant in TENANTS), the topic is one of opwatch's own, or the caller is in no tenant; " +
              '`details` names each. Nothing was stored.',
          ),
          '413': errorResponse(
            `The body is over ${MAX_BODY_KIB} KiB: answered before it is read, and the connection is closed.`,
          ),
          '415': errorResponse(
            'Not Content-Type: application/json (or not UTF-8), or a compressed body.',
          ),
          '429': errorResponse(
            "RESOURCE_EXHAUSTED: the caller already has MAX_PENDING_PER_OWNER pending registrations, or the caller's " +
              'tenant its maxPending.',
          ),
          '503': {$ref: '#/components/responses/Unavailable'},
          default: {$ref: '#/components/responses/Error'},
        },
      },
      get: {
        operationId: 'list',
        tags: ['registrations'],
        summary: 'List registrations',
        description:
          "A page of registrations in id order: the caller's own, or every owner's for an admin; `tenant` narrows " +
          "it to one tenant's.",
        parameters: Object.entries(listQuerySchema.shape).map(
          ([name, schema]) => parameter(name, 'query', schema),
        ),
        responses: {
          '200': {
            description: 'A page; nextPageToken unless it is the last.',
            content: json(ref('RegistrationList')),
          },
          '400': {$ref: '#/components/responses/InvalidArgument'},
          '401': {$ref: '#/components/responses/Unauthenticated'},
          '403': {$ref: '#/components/responses/NoTenant'},
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
          '401': {$ref: '#/components/responses/Unauthenticated'},
          '403': {$ref: '#/components/responses/NoTenant'},
          '404': {$ref: '#/components/responses/NotFound'},
          '409': {$ref: '#/components/responses/Unreadable'},
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
          '401': {$ref: '#/components/responses/Unauthenticated'},
          '403': {$ref: '#/components/responses/NoTenant'},
          '404': {$ref: '#/components/responses/NotFound'},
          '409': {$ref: '#/components/responses/Unreadable'},
          '503': {$ref: '#/components/responses/Unavailable'},
          default: {$ref: '#/components/responses/Error'},
        },
      },
    },
    '/stats': {
      get: {
        operationId: 'stats',
        tags: ['operations'],
        summary: 'How the deployment is doing',
        description:
          'Registrations by state and pending ones by shard (count() aggregations), the oldest overdue ' +
          'registration, and the last hour of notifications by outcome with their lag. For ADMIN_PRINCIPALS, ' +
          "whole or of one tenant; a tenant's admins (TENANTS) get their tenant's.",
        parameters: Object.entries(statsQuerySchema.shape).map(
          ([name, schema]) => parameter(name, 'query', schema),
        ),
        responses: {
          '200': {description: 'The figures.', content: json(ref('Stats'))},
          '400': {$ref: '#/components/responses/InvalidArgument'},
          '401': {$ref: '#/components/responses/Unauthenticated'},
          '403': errorResponse(
            'PERMISSION_DENIED: the caller is not in ADMIN_PRINCIPALS, nor an admin of the tenant asked for.',
          ),
          '404': errorResponse('NOT_FOUND: no such tenant in TENANTS.'),
          '503': {$ref: '#/components/responses/Unavailable'},
          default: {$ref: '#/components/responses/Error'},
        },
      },
    },
    ...WATCH_PATHS,
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
    schemas: generateComponentSchemas(),
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
