/**
 * The registration API's routes, one handler per method and path: register, list, show and cancel. Each gets the
 * verified caller, the id in the path and a logger carrying the request's trace from the dispatcher (api.ts).
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import {refusals} from '../core/allowlists';
import {defaultPollPolicy} from '../core/completion-events';
import type {RegistrationConfig} from '../core/config';
import type {NewRegistration, Registration} from '../core/model';
import {listQuerySchema} from '../core/schemas';
import {sendError, sendInvalid} from '../http/responses';
import {audit} from '../platform/audit';
import type {Logger} from '../platform/log';
import type {Caller} from './caller';
import {PendingQuota} from './pending-quota';
import {InvalidPageTokenError, type RegistrationStore} from './store';
import {validateRegistration} from './validation';
import {toApiView} from './view';

/** The largest registration body accepted. */
export const MAX_BODY_BYTES = 64 * 1024;

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
 * The registration a `POST /operations` body asks for, or undefined once it has answered why not (415, 413, 400).
 * Every refusal is audited with its reason: the log-based metric of refused registrations counts them.
 */
function readRequest(
  req: Request,
  res: Response,
  config: RegistrationConfig,
  refuse: (reason: string) => void,
): NewRegistration | undefined {
  if (!req.is('application/json')) {
    refuse('unsupported_media');
    sendError(
      res,
      415,
      'send the registration as Content-Type: application/json',
    );
    return undefined;
  }
  const size =
    req.rawBody?.length ?? Number(req.headers['content-length'] ?? 0);
  if (size > MAX_BODY_BYTES) {
    refuse('too_large');
    sendError(res, 413, `the body is over ${MAX_BODY_BYTES} bytes`);
    return undefined;
  }
  const validated = validateRegistration(req.body, config);
  if (!validated.ok) {
    refuse('invalid');
    sendInvalid(res, validated.problems);
    return undefined;
  }
  return validated.value;
}

/** `POST /operations`: checks the request, then stores the registration (or finds the pending one). */
export function registerRoute(deps: RegistrationApiDependencies): RouteHandler {
  const {config, store} = deps;
  const now = deps.now ?? Date.now;
  const quota = new PendingQuota(
    owner => store.countPending(owner),
    config.maxPendingPerOwner,
  );
  return async (req, res, {caller, log, trace}) => {
    const request = readRequest(req, res, config, outcome =>
      audit(log, {action: 'register', principal: caller.principal, outcome}),
    );
    if (!request) return;
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
      trace,
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
}

/** `GET /operations`: a page of the caller's registrations (every owner's for an admin). */
export function listRoute({store}: RegistrationApiDependencies): RouteHandler {
  return async (req, res, {caller}) => {
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
      registrationId: id,
      operationUrl: registration?.operation.url,
      topic: registration?.topic,
      outcome: registration?.state ?? 'not_found',
    });
    if (!registration) return sendError(res, 404, `no registration ${id}`);
    res.status(204).end();
  };
}
