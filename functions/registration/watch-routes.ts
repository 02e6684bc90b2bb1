/**
 * The watch routes of the registration API: `POST /watches`, `GET /watches`, `GET /watches/{id}` and
 * `DELETE /watches/{id}`. A watch is held to what a registration is: the same allowlists and tenant lists (its
 * parent's project and service stand for its operations'), the same owners (another's watch answers 404) and the
 * same pending bounds, through the same code (register-route.ts).
 */
import {
  toWatchView,
  watchListQuerySchema,
  type NewWatch,
  type Watch,
} from '../core/watch';
import {sendError, sendInvalid} from '../http/responses';
import {audit, type AuditEvent} from '../platform/audit';
import type {WatchStore} from '../watches/watch-store';
import type {Caller} from './caller';
import {PendingBounds, refused} from './register-route';
import type {RegistrationApiDependencies, RouteHandler} from './routes';
import {decodePageToken, encodePageToken, InvalidPageTokenError} from './store';
import {validateWatch} from './watch-validation';

/** What the watch routes work with: the registration API's dependencies and the watch store. */
export type WatchApiDependencies = RegistrationApiDependencies & {
  watches: WatchStore;
};

/** The watched parent as an operation reference, for the allowlists and the audit trail. */
function parentRef(watch: NewWatch) {
  const url = `https://${watch.service}/${watch.version}/${watch.parent}`;
  return {
    service: watch.service,
    version: watch.version,
    name: watch.parent,
    url,
  };
}

function mayAccess(caller: Caller, watch: Watch): boolean {
  return caller.admin || watch.owner === caller.principal;
}

/** `POST /watches`: checks the request as a registration's, then starts the watch (or finds the active one). */
export function createWatchRoute(deps: WatchApiDependencies): RouteHandler {
  const {config} = deps;
  const now = deps.now ?? Date.now;
  const bounds = new PendingBounds(deps.store, config);
  return async (req, res, {caller, log}) => {
    if (!req.is('application/json'))
      return sendError(
        res,
        415,
        'send the watch as Content-Type: application/json',
      );
    const validated = validateWatch(req.body, config);
    if (!validated.ok) return sendInvalid(res, validated.problems);
    const request = validated.value;
    const operation = parentRef(request);
    const event: Omit<AuditEvent, 'outcome'> = {
      action: 'watch',
      principal: caller.principal,
      ...(caller.tenant !== undefined && {tenant: caller.tenant}),
      parentUrl: operation.url,
      topic: request.topic,
    };
    const asRegistration = {operation, topic: request.topic};
    if (refused(asRegistration, caller, config, res, {log, event})) return;
    const overBound = await bounds.refusal(caller);
    if (overBound) {
      audit(log, {...event, outcome: 'over_quota'});
      return sendError(res, 429, overBound);
    }
    const {watch, created} = await deps.watches.create(
      request,
      caller.principal,
      now(),
      caller.tenant,
    );
    // Its first list is due at once: a tick of its shard is woken as for a new registration (same bucket hash).
    if (created) await deps.wake?.registered(watch.id);
    audit(log, {
      ...event,
      watchId: watch.id,
      outcome: created ? 'created' : 'existing',
    });
    res
      .status(created ? 201 : 200)
      .location(`/watches/${watch.id}`)
      .json(toWatchView(watch));
  };
}

/** `GET /watches`: a page of the caller's watches (every owner's for an admin). */
export function listWatchesRoute(deps: WatchApiDependencies): RouteHandler {
  return async (req, res, {caller}) => {
    const query = watchListQuerySchema.safeParse(req.query);
    if (!query.success) {
      return sendInvalid(
        res,
        query.error.issues.map(issue => ({
          field: issue.path.join('.') || 'query',
          message: issue.message,
        })),
      );
    }
    const {pageToken, ...options} = query.data;
    let after: string | undefined;
    try {
      after = pageToken === undefined ? undefined : decodePageToken(pageToken);
    } catch (error) {
      if (!(error instanceof InvalidPageTokenError)) throw error;
      return sendInvalid(res, [{field: 'pageToken', message: error.message}]);
    }
    const page = await deps.watches.list({
      ...options,
      ...(!caller.admin && {owner: caller.principal}),
      after,
    });
    res.json({
      watches: page.watches.map(toWatchView),
      ...(page.lastId && {nextPageToken: encodePageToken(page.lastId)}),
    });
  };
}

/** `GET /watches/{id}`: one watch; another owner's answers 404. */
export function showWatchRoute(deps: WatchApiDependencies): RouteHandler {
  return async (_req, res, {caller, id}) => {
    const watch = await deps.watches.get(id!);
    if (!watch || !mayAccess(caller, watch))
      return sendError(res, 404, `no watch ${id}`);
    res.json(toWatchView(watch));
  };
}

/** `DELETE /watches/{id}`: the watch and its pending registrations become cancelled; another owner's answers 404. */
export function cancelWatchRoute(deps: WatchApiDependencies): RouteHandler {
  const now = deps.now ?? Date.now;
  return async (_req, res, {caller, id, log}) => {
    const watch = await deps.watches.cancel(
      id!,
      now(),
      caller.admin ? undefined : caller.principal,
    );
    audit(log, {
      action: 'unwatch',
      principal: caller.principal,
      ...(caller.tenant !== undefined && {tenant: caller.tenant}),
      watchId: id,
      ...(watch && {parentUrl: parentRef(watch).url, topic: watch.topic}),
      outcome: watch?.state ?? 'not_found',
    });
    if (!watch) return sendError(res, 404, `no watch ${id}`);
    res.json(toWatchView(watch));
  };
}
