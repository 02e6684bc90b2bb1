/**
 * The registration API, function target `operations`: request → validation → store.
 *
 *   POST   /operations          register an operation (201; 200 for one already pending; 201 again once it ended)
 *   GET    /operations          a page of registrations (`state`, `pageSize`, `pageToken`)
 *   GET    /operations/{id}     one registration
 *   DELETE /operations/{id}     stop watching (204)
 *   GET    /stats               how the deployment is doing (ADMIN_PRINCIPALS only; stats-route.ts)
 *   POST   /watches             watch a parent: every operation under it (watch-routes.ts)
 *   GET    /watches             a page of watches
 *   GET    /watches/{id}        one watch
 *   DELETE /watches/{id}        stop watching the parent (200, the watch cancelled)
 *   GET    /openapi.json        the OpenAPI description of all of this (functions/registration/openapi.ts)
 *
 * Every call needs a Google-signed ID token (caller.ts) unless ALLOW_UNAUTHENTICATED=true; with TENANTS set, a
 * caller in no tenant is refused (403), unless an admin; callers see and cancel only their own registrations unless
 * they are in ADMIN_PRINCIPALS (another's answers 404, as if it did not exist). Bad input always gets a JSON error
 * and a 4xx, and is never stored. Request bodies are bounded before any of this (http/body-limit.ts).
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import {registrationIdSchema} from '../core/schemas';
import {leaveRequestDomain} from '../http/request-domain';
import {sendError} from '../http/responses';
import {CorruptDocumentError} from '../core/document';
import {audit, type AuditEvent} from '../platform/audit';
import {TRACE_FIELD, traceFields, type Logger} from '../platform/log';
import {CallerIdentity, UnauthenticatedError, type Caller} from './caller';
import {OPENAPI_DOCUMENT} from './openapi';
import {registerRoute} from './register-route';
import {
  cancelRoute,
  listRoute,
  showRoute,
  type RegistrationApiDependencies,
  type RouteHandler,
} from './routes';
import {statsRoute} from './stats-route';
import {
  cancelWatchRoute,
  createWatchRoute,
  listWatchesRoute,
  showWatchRoute,
} from './watch-routes';

/** The handlers of one path, by method. */
type Route = {methods: Record<string, RouteHandler>};

/** The methods whose calls are audited (platform/audit.ts), and as what. */
const AUDITED_ACTIONS: Record<string, AuditEvent['action'] | undefined> = {
  POST: 'register',
  DELETE: 'cancel',
};
/** The same for the watch routes. */
const AUDITED_WATCH_ACTIONS: typeof AUDITED_ACTIONS = {
  POST: 'watch',
  DELETE: 'unwatch',
};

/** An item path: its collection and id. */
const ITEM_PATH = /^\/(operations|watches)\/([^/]+)$/;

/** The caller of a route that needs no identity (the API description). */
const ANYONE: Caller = {principal: 'anyone', admin: false};

/**
 * The verified caller of a request, or undefined once it has been answered 401 (no valid ID token) or 403 (with
 * TENANTS, a caller in no tenant who is not an admin); both refusals are audited.
 */
async function admit(
  identity: CallerIdentity,
  tenancy: boolean,
  req: Request,
  res: Response,
  log: Logger,
  action: AuditEvent['action'] | undefined,
): Promise<Caller | undefined> {
  let caller: Caller;
  try {
    caller = await identity.identify(req);
  } catch (error) {
    if (!(error instanceof UnauthenticatedError)) throw error;
    if (action === 'register')
      audit(log, {action, principal: 'unknown', outcome: 'unauthenticated'});
    sendError(res, 401, error.message);
    return undefined;
  }
  if (tenancy && !caller.tenant && !caller.admin) {
    if (action)
      audit(log, {action, principal: caller.principal, outcome: 'no_tenant'});
    sendError(res, 403, `${caller.principal} is in no tenant of TENANTS`);
    return undefined;
  }
  return caller;
}

/** The routes: fixed paths, and item paths by their collection (`/operations/{id}`, `/watches/{id}`). */
function routeTable(deps: RegistrationApiDependencies) {
  const openapi: Route = {
    methods: {GET: (_req, res) => void res.json(OPENAPI_DOCUMENT)},
  };
  const fixedPaths = new Map<string, Route>([
    [
      '/operations',
      {methods: {POST: registerRoute(deps), GET: listRoute(deps)}},
    ],
    ['/openapi.json', openapi],
    ['/stats', {methods: {GET: statsRoute(deps)}}],
  ]);
  const items = new Map<string, Route>([
    [
      'operations',
      {methods: {GET: showRoute(deps), DELETE: cancelRoute(deps)}},
    ],
  ]);
  const {watches} = deps;
  if (watches) {
    const watchDeps = {...deps, watches};
    fixedPaths.set('/watches', {
      methods: {
        POST: createWatchRoute(watchDeps),
        GET: listWatchesRoute(watchDeps),
      },
    });
    items.set('watches', {
      methods: {
        GET: showWatchRoute(watchDeps),
        DELETE: cancelWatchRoute(watchDeps),
      },
    });
  }
  return {openapi, fixedPaths, items};
}

/** Builds the `operations` function's handler. */
export function createRegistrationHandler(
  deps: RegistrationApiDependencies,
): (req: Request, res: Response) => Promise<void> {
  const {config} = deps;
  const identity = new CallerIdentity(config);
  const {openapi, fixedPaths, items} = routeTable(deps);

  return async (req, res) => {
    leaveRequestDomain();
    const trace = traceFields(req.headers, config.projectId);
    const log = deps.log.child(trace);
    const path = req.path.replace(/\/+$/, '') || '/';
    const itemMatch = ITEM_PATH.exec(path);
    const route =
      fixedPaths.get(path) ?? (itemMatch ? items.get(itemMatch[1]) : undefined);
    if (
      !route ||
      (itemMatch && !registrationIdSchema.safeParse(itemMatch[2]).success)
    ) {
      return sendError(res, 404, `no such resource: ${req.method} ${path}`);
    }
    const handler = route.methods[req.method];
    if (!handler) {
      res.setHeader('Allow', Object.keys(route.methods).join(', '));
      return sendError(res, 405, `${req.method} is not allowed on ${path}`);
    }
    if (route === openapi) return handler(req, res, {caller: ANYONE, log});
    const caller = await admit(
      identity,
      config.tenants !== undefined,
      req,
      res,
      log,
      (path.startsWith('/watches') ? AUDITED_WATCH_ACTIONS : AUDITED_ACTIONS)[
        req.method
      ],
    );
    if (!caller) return;
    try {
      await handler(req, res, {
        caller,
        id: itemMatch?.[2],
        log,
        trace: trace[TRACE_FIELD] as string | undefined,
      });
    } catch (error) {
      if (error instanceof CorruptDocumentError)
        return unreadable(res, caller, error, log);
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

/**
 * A registration stored in a form this version cannot read: 409 to its owner (or an admin), saying why; to anyone
 * else, as if it did not exist. Never a 5xx: retrying would not help, and the poller ends the watch.
 */
function unreadable(
  res: Response,
  caller: Caller,
  error: CorruptDocumentError,
  log: Logger,
): void {
  log.error('registration unreadable', {
    registrationId: error.registrationId,
    problem: error.message,
  });
  if (!caller.admin && error.owner !== caller.principal)
    return sendError(res, 404, `no registration ${error.registrationId}`);
  sendError(
    res,
    409,
    `registration ${error.registrationId} is stored in a form this version cannot read (${error.message}); ` +
      'its watch ends poll_error (corrupt), and registering the operation again starts a new watch',
  );
}
