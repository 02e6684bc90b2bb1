/**
 * The registration API, function target `operations`: request → validation → store.
 *
 *   POST   /operations          register an operation (201; 200 for one already pending; 201 again once it ended)
 *   GET    /operations          a page of registrations (`state`, `pageSize`, `pageToken`)
 *   GET    /operations/{id}     one registration
 *   DELETE /operations/{id}     stop watching (204)
 *   GET    /openapi.json        the OpenAPI description of all of this (functions/registration/openapi.ts)
 *
 * Every call needs a Google-signed ID token (caller.ts) unless ALLOW_UNAUTHENTICATED=true; callers see and cancel
 * only their own registrations unless they are in ADMIN_PRINCIPALS (another's answers 404, as if it did not
 * exist). Bad input always gets a JSON error and a 4xx, and is never stored.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import type {RegistrationConfig} from '../config';
import {audit} from '../audit';
import {defaultPollPolicy} from '../completions/backoff';
import type {Logger} from '../log';
import {traceFields} from '../log';
import type {Registration} from '../model';
import type {TickWake} from '../polling/tick-wake';
import {refusals} from './allowlists';
import {CallerIdentity, UnauthenticatedError, type Caller} from './caller';
import {OPENAPI_DOCUMENT} from './openapi';
import {PendingQuota} from './pending-quota';
import {
  InvalidPageTokenError,
  type EndedWatch,
  type RegistrationStore,
} from './store';
import {leaveRequestDomain} from '../http/request-domain';
import {sendError, sendInvalid} from '../http/responses';
import {
  formatDuration,
  listQuerySchema,
  registrationIdSchema,
  type RegistrationView,
} from './schemas';
import {validateRegistration} from './validation';

/** The largest registration body accepted. */
export const MAX_BODY_BYTES = 64 * 1024;

function iso(ms: number): string;
function iso(ms: number | undefined): string | undefined;
function iso(ms: number | undefined) {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/**
 * A registration as the API shows it: times in RFC 3339, durations as google.protobuf.Duration strings.
 * @param previous the ended watch this registration replaced, shown as `previous` in the answer that replaced it.
 */
export function toApiView(
  registration: Registration,
  previous?: EndedWatch,
): RegistrationView {
  const view: RegistrationView = {
    id: registration.id,
    owner: registration.owner,
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
    previous: previous && {
      state: previous.state,
      finishedAt: iso(previous.finishedAt),
      attempts: previous.attempts,
      lastError: previous.lastError,
    },
  };
  // Leaves absent fields out rather than keeping them as undefined keys.
  return JSON.parse(JSON.stringify(view));
}

/** What a route handler gets beside the request: who calls, the id in the path, and a logger carrying the trace. */
interface Call {
  caller: Caller;
  id?: string;
  log: Logger;
}

type Route = {
  methods: Record<
    string,
    (req: Request, res: Response, call: Call) => Promise<void> | void
  >;
};

/** The caller of a route that needs no identity (the API description). */
const ANYONE: Caller = {principal: 'anyone', admin: false};

/** True when `caller` may see and cancel `registration`. */
function mayAccess(caller: Caller, registration: Registration): boolean {
  return caller.admin || registration.owner === caller.principal;
}

/** Builds the `operations` function's handler. */
export function createRegistrationHandler(deps: {
  config: RegistrationConfig;
  store: RegistrationStore;
  log: Logger;
  /** Wakes a tick for a new registration no running tick will poll soon (polling/tick-wake.ts); none: no wakes. */
  wake?: Pick<TickWake, 'registered'>;
  now?: () => number;
}): (req: Request, res: Response) => Promise<void> {
  const {config, store} = deps;
  const now = deps.now ?? Date.now;
  const identity = new CallerIdentity(config);
  const quota = new PendingQuota(
    owner => store.countPending(owner),
    config.maxPendingPerOwner,
  );

  const register = async (req: Request, res: Response, {caller, log}: Call) => {
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
    const request = validated.value;
    const event = {
      action: 'register' as const,
      principal: caller.principal,
      operationUrl: request.operation.url,
      topic: request.topic,
    };
    const refused = refusals(request, config.allowlists);
    if (refused.length > 0) {
      audit(log, {...event, outcome: 'forbidden'});
      return sendError(
        res,
        403,
        `not allowed: ${refused.map(refusal => refusal.message).join('; ')}`,
        refused,
      );
    }
    // Checked before the write, so concurrent registrations may overshoot by a few: a bound, not a ledger.
    if (!(await quota.allows(caller.principal))) {
      audit(log, {...event, outcome: 'over_quota'});
      return sendError(
        res,
        429,
        `${caller.principal} already has ${config.maxPendingPerOwner} pending registrations (MAX_PENDING_PER_OWNER); cancel some or wait for them to finish`,
      );
    }
    const {registration, created, previous} = await store.register(
      {
        ...request,
        pollPolicy:
          request.pollPolicy ??
          defaultPollPolicy(request.operation, config.completionEvents),
      },
      caller.principal,
      now(),
    );
    if (created) {
      quota.started(caller.principal);
      // Before the answer: past it, Cloud Functions may take the CPU away. It never fails the registration.
      await deps.wake?.registered(registration.id);
    }
    const view = toApiView(registration, previous);
    audit(log, {
      ...event,
      registrationId: registration.id,
      outcome: created ? 'created' : 'existing',
    });
    if (view.previous) {
      log.info('registration started again after its watch ended', {
        registrationId: registration.id,
        operationUrl: registration.operation.url,
        previous: view.previous,
      });
    }
    res
      .status(created ? 201 : 200)
      .location(`/operations/${registration.id}`)
      .json(view);
  };

  const list = async (req: Request, res: Response, {caller}: Call) => {
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
      const page = await store.list({
        ...query.data,
        ...(!caller.admin && {owner: caller.principal}),
      });
      res.json({
        registrations: page.registrations.map(r => toApiView(r)),
        nextPageToken: page.nextPageToken,
      });
    } catch (error) {
      if (!(error instanceof InvalidPageTokenError)) throw error;
      sendInvalid(res, [{field: 'pageToken', message: error.message}]);
    }
  };

  const show = async (_req: Request, res: Response, {caller, id}: Call) => {
    const registration = await store.get(id!);
    if (!registration || !mayAccess(caller, registration))
      return sendError(res, 404, `no registration ${id}`);
    res.json(toApiView(registration));
  };

  const cancel = async (
    _req: Request,
    res: Response,
    {caller, id, log}: Call,
  ) => {
    const registration = await store.cancel(
      id!,
      now(),
      caller.admin ? undefined : caller.principal,
    );
    audit(log, {
      action: 'cancel',
      principal: caller.principal,
      registrationId: id,
      operationUrl: registration?.operation.url,
      topic: registration?.topic,
      outcome: registration?.state ?? 'not_found',
    });
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
    leaveRequestDomain();
    const log = deps.log.child(traceFields(req.headers, config.projectId));
    const path = req.path.replace(/\/+$/, '') || '/';
    const itemMatch = /^\/operations\/([^/]+)$/.exec(path);
    const route = fixedPaths.get(path) ?? (itemMatch ? item : undefined);
    if (
      !route ||
      (itemMatch && !registrationIdSchema.safeParse(itemMatch[1]).success)
    ) {
      return sendError(res, 404, `no such resource: ${req.method} ${path}`);
    }
    const handler = route.methods[req.method];
    if (!handler) {
      res.setHeader('Allow', Object.keys(route.methods).join(', '));
      return sendError(res, 405, `${req.method} is not allowed on ${path}`);
    }
    if (route === openapi) return handler(req, res, {caller: ANYONE, log});
    let caller: Caller;
    try {
      caller = await identity.identify(req);
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      return sendError(res, 401, error.message);
    }
    try {
      await handler(req, res, {caller, id: itemMatch?.[1], log});
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
