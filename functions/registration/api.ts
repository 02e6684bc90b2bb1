/**
 * The registration API, function target `operations`: request → validation → store.
 *
 *   POST   /operations          register an operation (201, or 200 for one already registered)
 *   GET    /operations          a page of registrations (`state`, `pageSize`, `pageToken`)
 *   GET    /operations/{id}     one registration
 *   DELETE /operations/{id}     stop watching (204)
 *   GET    /openapi.json        the OpenAPI description of all of this (functions/registration/openapi.ts)
 *
 * Bad input always gets a JSON error and a 4xx, and is never stored.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import {z} from 'zod';
import type {RegistrationConfig} from '../config';
import type {Logger} from '../log';
import {traceFields} from '../log';
import {STATES, type Registration} from '../model';
import {OPENAPI_DOCUMENT} from './openapi';
import {InvalidPageTokenError, type RegistrationStore} from './store';
import {sendError, sendInvalid} from '../http/responses';
import {formatDuration, validateRegistration} from './validation';

/** The largest registration body accepted. */
export const MAX_BODY_BYTES = 64 * 1024;

const ID = /^[0-9a-f]{32}$/;

const listQuerySchema = z.strictObject({
  state: z.enum(STATES).optional(),
  pageSize: z.coerce.number().int().min(1).max(1000).default(50),
  pageToken: z.string().max(512).optional(),
});

const iso = (ms: number | undefined) =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** A registration as the API shows it: times in RFC 3339, durations as google.protobuf.Duration strings. */
export function toApiView(registration: Registration): Record<string, unknown> {
  const view = {
    id: registration.id,
    state: registration.state,
    operationUrl: registration.operation.url,
    service: registration.operation.service,
    version: registration.operation.version,
    name: registration.operation.name,
    topic: registration.topic,
    labels: registration.labels,
    timeout: formatDuration(registration.timeoutMs),
    scopes: registration.scopes,
    subject: registration.subject,
    pollPolicy: registration.pollPolicy && {
      initialDelay: formatDuration(registration.pollPolicy.initialDelayMs),
      multiplier: registration.pollPolicy.multiplier,
      maxDelay: formatDuration(registration.pollPolicy.maxDelayMs),
      jitter: registration.pollPolicy.jitter,
    },
    attempts: registration.attempts,
    createdAt: iso(registration.createdAt),
    updatedAt: iso(registration.updatedAt),
    deadline: iso(registration.deadline),
    lastPolledAt: iso(registration.lastPolledAt),
    nextPollAt:
      registration.state === 'pending'
        ? iso(registration.nextPollAt)
        : undefined,
    finishedAt: iso(registration.finishedAt),
    ...(registration.state === 'pending' && {
      progressPercent: registration.progressPercent,
      estimatedDoneAt: iso(registration.estimatedDoneAt),
    }),
    lastError: registration.lastError,
    lastOperation: registration.lastOperation,
  };
  return JSON.parse(JSON.stringify(view));
}

type Route = {
  methods: Record<
    string,
    (req: Request, res: Response, id?: string) => Promise<void> | void
  >;
};

/** Builds the `operations` function's handler. */
export function createRegistrationHandler(deps: {
  config: RegistrationConfig;
  store: RegistrationStore;
  log: Logger;
  now?: () => number;
}): (req: Request, res: Response) => Promise<void> {
  const {config, store} = deps;
  const now = deps.now ?? Date.now;

  const register = async (req: Request, res: Response) => {
    if (!req.is('application/json')) {
      return sendError(
        res,
        415,
        'send the registration as Content-Type: application/json',
      );
    }
    const size =
      req.rawBody?.length ?? Number(req.headers['content-length'] ?? 0);
    if (size > MAX_BODY_BYTES)
      return sendError(res, 413, `the body is over ${MAX_BODY_BYTES} bytes`);
    const validated = validateRegistration(req.body, config);
    if (!validated.ok) return sendInvalid(res, validated.problems);
    const {registration, created} = await store.register(
      validated.value,
      now(),
    );
    res
      .status(created ? 201 : 200)
      .location(`/operations/${registration.id}`)
      .json(toApiView(registration));
  };

  const list = async (req: Request, res: Response) => {
    const query = listQuerySchema.safeParse(req.query);
    if (!query.success) {
      return sendInvalid(
        res,
        query.error.issues.map(issue => ({
          field: issue.path.join('.') || 'query',
          message: issue.message,
        })),
      );
    }
    try {
      const page = await store.list(query.data);
      res.json({
        registrations: page.registrations.map(toApiView),
        nextPageToken: page.nextPageToken,
      });
    } catch (error) {
      if (!(error instanceof InvalidPageTokenError)) throw error;
      sendInvalid(res, [{field: 'pageToken', message: error.message}]);
    }
  };

  const show = async (_req: Request, res: Response, id?: string) => {
    const registration = await store.get(id!);
    if (!registration) return sendError(res, 404, `no registration ${id}`);
    res.json(toApiView(registration));
  };

  const cancel = async (_req: Request, res: Response, id?: string) => {
    const registration = await store.cancel(id!, now());
    if (!registration) return sendError(res, 404, `no registration ${id}`);
    res.status(204).end();
  };

  const collection: Route = {methods: {POST: register, GET: list}};
  const item: Route = {methods: {GET: show, DELETE: cancel}};
  const openapi: Route = {
    methods: {GET: (_req, res) => void res.json(OPENAPI_DOCUMENT)},
  };
  const fixedPaths = new Map([
    ['/operations', collection],
    ['/openapi.json', openapi],
  ]);

  return async (req, res) => {
    const log = deps.log.child(traceFields(req.headers, config.projectId));
    const path = req.path.replace(/\/+$/, '') || '/';
    const itemMatch = /^\/operations\/([^/]+)$/.exec(path);
    const route = fixedPaths.get(path) ?? (itemMatch ? item : undefined);
    if (!route || (itemMatch && !ID.test(itemMatch[1]))) {
      return sendError(res, 404, `no such resource: ${req.method} ${path}`);
    }
    const handler = route.methods[req.method];
    if (!handler) {
      res.setHeader('Allow', Object.keys(route.methods).join(', '));
      return sendError(res, 405, `${req.method} is not allowed on ${path}`);
    }
    try {
      await handler(req, res, itemMatch?.[1]);
    } catch (error) {
      log.error('request failed', {
        method: req.method,
        path,
        error: (error as Error).message,
      });
      if (!res.headersSent)
        sendError(res, 503, 'the registration store is unavailable; retry');
    }
  };
}
