/**
 * The lookup key of the operation an audit entry reports, rebuilt from what the service's preset says its entries
 * carry, so it meets the key a registration stored (core/completion-events.ts) on one indexed equality.
 */
import {SERVICE_PRESETS} from '../core/presets';
import type {LogEntry} from './events';

/** A Compute short id: one path segment. */
const SHORT_ID = /^[^/\s]+$/;

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
