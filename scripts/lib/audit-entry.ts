/**
 * The Admin Activity audit entry Cloud Logging writes when an operation ends, as the presets say each service
 * names its operations: what the local stack's sandbox, the tests and the benchmark feed the `completions`
 * function, on either route.
 */
import {presetFor} from '../../functions/core/presets';

/** A LogEntry, as Cloud Logging writes it (the fields opwatch reads, and a few it does not). */
export type AuditEntry = Record<string, unknown> & {
  operation: {id: string; producer: string; first?: boolean; last?: boolean};
};

const COMPUTE_NAME =
  /^projects\/([^/]+)\/(?:(zones|regions)\/([^/]+)|global)\/operations\/([^/]+)$/;

/**
 * The entry for operation `name` of `service` (an API host): the last one (`operation.last`) unless `first`.
 * @throws for a service whose preset says nothing of completion entries: it writes none opwatch reads.
 */
export function auditEntry(
  service: string,
  name: string,
  options: {first?: boolean} = {},
): AuditEntry {
  const events = presetFor(service)?.completionEvents;
  if (!events) throw new Error(`${service} writes no completion entries`);
  const serviceName = events.serviceName;
  let id = name;
  let labels: Record<string, string> = {};
  if (events.operationId === 'short-id') {
    const match = COMPUTE_NAME.exec(name);
    if (!match) throw new Error(`${name} is not a Compute operation name`);
    const [, project, scope, location, shortId] = match;
    id = shortId;
    labels = {
      project_id: project,
      ...(scope === 'zones' && {zone: location}),
      ...(scope === 'regions' && {region: location}),
    };
  } else {
    labels = {project_id: name.split('/')[1] ?? ''};
  }
  return {
    insertId: `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`,
    logName: `projects/${labels.project_id}/logs/cloudaudit.googleapis.com%2Factivity`,
    operation: {
      id,
      producer: serviceName,
      ...(options.first ? {first: true} : {last: true}),
    },
    protoPayload: {
      '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
      serviceName,
      methodName: 'operation.finish',
      resourceName: name,
      status: {},
    },
    resource: {type: 'audited_resource', labels},
    severity: 'NOTICE',
    timestamp: new Date().toISOString(),
  };
}
