/**
 * The `/watches` paths of the OpenAPI document (openapi.ts): a watch of a parent, its list, one watch, and its
 * cancellation. Schemas are the components generated from core/watch.ts.
 */
import {watchListQuerySchema} from '../core/watch';
import {registrationIdSchema} from '../core/schemas';
import {
  parameter,
  type ResponseObject,
  type Schema,
} from './openapi-components';

const ref = (name: string): Schema => ({$ref: `#/components/schemas/${name}`});
const json = (schema: Schema) => ({'application/json': {schema}});
const common = (refs: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(refs).map(([status, name]) => [
      status,
      {$ref: `#/components/responses/${name}`},
    ]),
  );
const watchAnswer = (description: string): ResponseObject => ({
  description,
  headers: {
    Location: {description: '/watches/{id}', schema: {type: 'string'}},
  },
  content: json(ref('Watch')),
});
const errorAnswer = (description: string): ResponseObject => ({
  description,
  content: json(ref('Error')),
});

/** The errors of `GET` and `DELETE /watches/{id}`. */
const ONE_WATCH_ERRORS = {
  '404': errorAnswer("No such watch (another owner's answers the same)."),
  ...common({
    '401': 'Unauthenticated',
    '403': 'NoTenant',
    '503': 'Unavailable',
    default: 'Error',
  }),
};

/** The `/watches` paths. */
export const WATCH_PATHS = {
  '/watches': {
    post: {
      operationId: 'watch',
      tags: ['watches'],
      summary: 'Watch a parent',
      description:
        'Every operation under `{parent}/operations` that was not done when the watch began is notified once, ' +
        'with `watchId` in its data and attributes: the poller lists the parent (ListOperations, every page, ' +
        '`filter` passed through) at most every LIST_INTERVAL_SECONDS. A running operation becomes a ' +
        "registration with the watch's owner, topic and labels; one found done is notified from the list " +
        'entry, without a poll. The same owner, service, version, parent, filter and topic asked again while the ' +
        'watch is active answers 200 with it. Held to the same allowlists, tenants and pending bounds as a ' +
        'registration.',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: ref('WatchRequest'),
            examples: {
              firestore: {
                value: {
                  service: 'firestore.googleapis.com',
                  parent: 'projects/my-proj/databases/(default)',
                  labels: {team: 'data'},
                },
              },
            },
          },
        },
      },
      responses: {
        '201': watchAnswer(
          'Watching: a new watch, its first list due at once.',
        ),
        '200': watchAnswer(
          'Already watched: the active watch of the same parent, filter and topic.',
        ),
        ...common({'400': 'InvalidArgument', '401': 'Unauthenticated'}),
        '403': errorAnswer(
          "PERMISSION_DENIED: the parent's project or service, or the topic, is outside what the operator allows " +
            "(the lists of a registration, the caller's tenant's too), or the caller is in no tenant.",
        ),
        '415': errorAnswer('Not Content-Type: application/json.'),
        '429': errorAnswer(
          "RESOURCE_EXHAUSTED: the caller, or the caller's tenant, is at its bound of pending registrations.",
        ),
        ...common({'503': 'Unavailable', default: 'Error'}),
      },
    },
    get: {
      operationId: 'listWatches',
      tags: ['watches'],
      summary: 'List watches',
      description:
        "A page of watches in id order: the caller's own, or every owner's for an admin.",
      parameters: Object.entries(watchListQuerySchema.shape).map(
        ([name, schema]) => parameter(name, 'query', schema),
      ),
      responses: {
        '200': {description: 'A page.', content: json(ref('WatchList'))},
        ...common({
          '400': 'InvalidArgument',
          '401': 'Unauthenticated',
          '403': 'NoTenant',
          '503': 'Unavailable',
          default: 'Error',
        }),
      },
    },
  },
  '/watches/{id}': {
    parameters: [parameter('id', 'path', registrationIdSchema)],
    get: {
      operationId: 'getWatch',
      tags: ['watches'],
      summary: 'Get a watch',
      responses: {
        '200': {description: 'The watch.', content: json(ref('Watch'))},
        ...ONE_WATCH_ERRORS,
      },
    },
    delete: {
      operationId: 'cancelWatch',
      tags: ['watches'],
      summary: 'Stop watching a parent',
      description:
        'An active watch becomes cancelled, and so do its pending registrations: nothing is notified for it ' +
        'after this answer. One that ended is left as it is.',
      responses: {
        '200': {
          description: 'The watch, cancelled (or as it ended).',
          content: json(ref('Watch')),
        },
        ...ONE_WATCH_ERRORS,
      },
    },
  },
};
