/**
 * The lookup key that ties an audit entry to the registrations of its operation: `{serviceName} {name}`, where
 * `name` is the full operation name. A registration stores it when it is made; an entry's key is rebuilt from
 * what the service's preset says its entries carry, so both sides meet on one indexed equality.
 */
import {SERVICE_PRESETS, presetFor} from '../google/presets';
import type {OperationRef} from '../model';
import type {LogEntry} from './events';

/** The stored field holding the key, indexed with `state` (infra/firestore.tf). */
export const COMPLETION_KEY_FIELD = 'completionKey';

/** A Compute short id: one path segment. */
const SHORT_ID = /^[^/\s]+$/;

/** The key of a registration's operation, or undefined when its service announces no completions. */
export function completionKeyOf(operation: OperationRef): string | undefined {
  const events = presetFor(operation.service)?.completionEvents;
  return events && `${events.serviceName} ${operation.name}`;
}

/** The key of the operation an audit entry reports, or undefined when no preset reads such entries. */
export function completionKeyOfEntry(entry: LogEntry): string | undefined {
  const serviceName = entry.protoPayload.serviceName;
  const events = SERVICE_PRESETS.find(
    preset => preset.completionEvents?.serviceName === serviceName,
  )?.completionEvents;
  if (!events) return undefined;
  const id = entry.operation.id;
  if (events.operationId === 'name') return `${serviceName} ${id}`;
  const labels = entry.resource?.labels ?? {};
  if (!SHORT_ID.test(id) || !labels.project_id) return undefined;
  const scope = labels.zone
    ? `zones/${labels.zone}`
    : labels.region
      ? `regions/${labels.region}`
      : 'global';
  return `${serviceName} projects/${labels.project_id}/${scope}/operations/${id}`;
}
