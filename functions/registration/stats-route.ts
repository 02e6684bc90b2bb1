/**
 * `GET /stats`: how the deployment is doing (schema Stats, core/stats.ts). ADMIN_PRINCIPALS read the whole
 * deployment's figures, or one tenant's with `?tenant=`; a tenant's `admins` (TENANTS) read their own tenant's.
 * Others get 403: the figures are about other owners' registrations.
 */
import {fieldProblems} from '../core/schemas';
import {statsQuerySchema} from '../core/stats';
import {sendError, sendInvalid} from '../http/responses';
import type {Caller} from './caller';
import type {RegistrationApiDependencies, RouteHandler} from './routes';
import {StatsReader} from './stats';

/** The tenant whose figures `caller` asked for and may read (undefined: the deployment's), or why not. */
function scopeOf(
  caller: Caller,
  asked: string | undefined,
  tenantNames: readonly string[],
): {tenant?: string} | {status: 403 | 404; message: string} {
  if (asked !== undefined && !tenantNames.includes(asked))
    return {status: 404, message: `no tenant ${asked} in TENANTS`};
  if (caller.admin) return {tenant: asked};
  if (caller.tenantAdmin && (asked === undefined || asked === caller.tenant))
    return {tenant: caller.tenant};
  return {
    status: 403,
    message: caller.tenantAdmin
      ? `${caller.principal} may read the figures of tenant ${caller.tenant} only`
      : `${caller.principal} may not read the deployment's figures: GET /stats is for ADMIN_PRINCIPALS and tenants' admins`,
  };
}

/** `GET /stats`. */
export function statsRoute(deps: RegistrationApiDependencies): RouteHandler {
  const now = deps.now ?? Date.now;
  const tenantNames = [...(deps.config.tenants?.keys() ?? [])];
  const reader = new StatsReader(
    deps.store.firestore,
    deps.store.collectionName,
    deps.config.shards,
    tenantNames,
  );
  return async (req, res, {caller}) => {
    const query = statsQuerySchema.safeParse(req.query);
    if (!query.success) {
      return sendInvalid(res, fieldProblems(query.error, 'query'));
    }
    const scope = scopeOf(caller, query.data.tenant, tenantNames);
    if ('status' in scope) return sendError(res, scope.status, scope.message);
    const scoped =
      scope.tenant === undefined ? reader : reader.forTenant(scope.tenant);
    res.json(await scoped.read(now()));
  };
}
