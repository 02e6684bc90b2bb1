/**
 * `GET /stats`: how the deployment is doing (schema Stats, core/stats.ts), for ADMIN_PRINCIPALS. Others get 403:
 * the figures are about every owner's registrations.
 */
import {sendError} from '../http/responses';
import type {RegistrationApiDependencies, RouteHandler} from './routes';
import {StatsReader} from './stats';

/** `GET /stats`. */
export function statsRoute(deps: RegistrationApiDependencies): RouteHandler {
  const now = deps.now ?? Date.now;
  const reader = new StatsReader(
    deps.store.firestore,
    deps.store.collectionName,
    deps.config.shards,
  );
  return async (_req, res, {caller}) => {
    if (!caller.admin) {
      return sendError(
        res,
        403,
        `${caller.principal} may not read the deployment's figures: GET /stats is for ADMIN_PRINCIPALS`,
      );
    }
    res.json(await reader.read(now()));
  };
}
