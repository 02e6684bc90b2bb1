/**
 * The registration API's routes, one handler per method and path: list, show and cancel here, register in
 * register-route.ts. Each gets the verified caller, the id in the path and a logger carrying the request's trace
 * from the dispatcher (api.ts).
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import type {RegistrationConfig} from '../core/config';
import type {Registration} from '../core/model';
import {fieldProblems, listQuerySchema} from '../core/schemas';
import {sendError, sendInvalid} from '../http/responses';
import {audit} from '../platform/audit';
import type {Logger} from '../platform/log';
import type {Caller} from './caller';
import {InvalidPageTokenError, type RegistrationStore} from './store';
import {toApiView} from './view';
import type {WatchStore} from '../watches/watch-store';

/** Wakes a tick for a new registration that no running tick will poll soon (polling/tick-wake.ts). */
export interface RegistrationWake {
  /** Resolves once a tick is sure to poll registration `id` soon; never rejects. */
  registered(id: string): Promise<void>;
}

/** What the registration API works with. */
export interface RegistrationApiDependencies {
  config: RegistrationConfig;
  store: RegistrationStore;
  log: Logger;
  /** Watches of parents (`/watches`); none: those paths answer 404. */
  watches?: WatchStore;
  /** Wakes a tick for a new registration no running tick will poll soon; none: no wakes. */
  wake?: RegistrationWake;
  now?: () => number;
}

/** What a route handler gets beside the request: who calls, the id in the path, and a logger carrying the trace. */
export interface Call {
  caller: Caller;
  id?: string;
  log: Logger;
  /** The request's Cloud Logging trace, `projects/P/traces/T`, when it has one. */
  trace?: string;
}

/** Answers one method on one path. */
export type RouteHandler = (
  req: Request,
  res: Response,
  call: Call,
) => Promise<void> | void;

/** True when `caller` may see and cancel `registration`. */
function mayAccess(caller: Caller, registration: Registration): boolean {
  return caller.admin || registration.owner === caller.principal;
}

/**
 * `GET /operations`: a page of the caller's registrations (every owner's for an admin), optionally of one state
 * and one tenant.
 */
export function listRoute({store}: RegistrationApiDependencies): RouteHandler {
  return async (req, res, {caller}) => {
    const query = listQuerySchema.safeParse(req.query);
    if (!query.success) {
      return sendInvalid(res, fieldProblems(query.error, 'query'));
    }
    try {
      const page = await store.list({
        ...query.data,
        ...(!caller.admin && {owner: caller.principal}),
      });
      res.json({
        registrations: page.registrations.map(r => toApiView(r)),
        unreadable: page.unreadable,
        nextPageToken: page.nextPageToken,
      });
    } catch (error) {
      if (!(error instanceof InvalidPageTokenError)) throw error;
      sendInvalid(res, [{field: 'pageToken', message: error.message}]);
    }
  };
}

/** `GET /operations/{id}`: one registration; another owner's answers 404, as if it did not exist. */
export function showRoute({store}: RegistrationApiDependencies): RouteHandler {
  return async (_req, res, {caller, id}) => {
    const registration = await store.get(id!);
    if (!registration || !mayAccess(caller, registration))
      return sendError(res, 404, `no registration ${id}`);
    res.json(toApiView(registration));
  };
}

/** `DELETE /operations/{id}`: stops watching; another owner's answers 404. */
export function cancelRoute(deps: RegistrationApiDependencies): RouteHandler {
  const now = deps.now ?? Date.now;
  return async (_req, res, {caller, id, log}) => {
    const registration = await deps.store.cancel(
      id!,
      now(),
      caller.admin ? undefined : caller.principal,
    );
    audit(log, {
      action: 'cancel',
      principal: caller.principal,
      ...(caller.tenant !== undefined && {tenant: caller.tenant}),
      registrationId: id,
      operationUrl: registration?.operation.url,
      topic: registration?.topic,
      outcome: registration?.state ?? 'not_found',
    });
    if (!registration) return sendError(res, 404, `no registration ${id}`);
    res.status(204).end();
  };
}
