/**
 * The lookup key both sides compute: a registration when it is made, an audit entry when it arrives. They must
 * meet for every service whose preset says how its entries name operations, and only for the same operation.
 */
import {
  COMPLETION_EVENTS_POLICY,
  completionKeyOf,
  defaultPollPolicy,
} from '../../../functions/core/completion-events';
import {readEvent} from '../../../functions/completions/events';
import {completionKeyOfEntry} from '../../../functions/completions/lookup-key';
import {SERVICE_PRESETS} from '../../../functions/core/presets';
import {auditEntry} from '../../../scripts/lib/audit-entry';

function ref(service: string, version: string, name: string) {
  return {service, version, name, url: `https://${service}/${version}/${name}`};
}

function entryKey(service: string, name: string): string | undefined {
  const read = readEvent({
    type: 'google.cloud.audit.log.v1.written',
    data: auditEntry(service, name),
  });
  if (read.kind !== 'completion') throw new Error(read.kind);
  return completionKeyOfEntry(read.entry);
}

it.each([
  [
    'firestore.googleapis.com',
    'v1',
    'projects/p/databases/(default)/operations/A',
  ],
  [
    'spanner.googleapis.com',
    'v1',
    'projects/p/instances/i/databases/d/operations/B',
  ],
  [
    'apigateway.googleapis.com',
    'v1',
    'projects/p/locations/global/operations/C',
  ],
  [
    'us-central1-aiplatform.googleapis.com',
    'v1',
    'projects/1/locations/us-central1/operations/D',
  ],
  [
    'compute.googleapis.com',
    'compute/v1',
    'projects/p/zones/us-east1-b/operations/operation-1',
  ],
  [
    'compute.googleapis.com',
    'compute/v1',
    'projects/p/regions/us-east1/operations/operation-2',
  ],
  [
    'compute.googleapis.com',
    'compute/v1',
    'projects/p/global/operations/operation-3',
  ],
])(
  '%s %s: the registration and its completion entry meet',
  (service, version, name) => {
    const key = completionKeyOf(ref(service, version, name));
    expect(key).toBeDefined();
    expect(entryKey(service, name)).toBe(key);
  },
);

it('a Compute short id in another zone or project is another operation', () => {
  const key = completionKeyOf(
    ref(
      'compute.googleapis.com',
      'compute/v1',
      'projects/p/zones/a/operations/operation-1',
    ),
  );
  expect(
    entryKey(
      'compute.googleapis.com',
      'projects/p/zones/b/operations/operation-1',
    ),
  ).not.toBe(key);
  expect(
    entryKey(
      'compute.googleapis.com',
      'projects/q/zones/a/operations/operation-1',
    ),
  ).not.toBe(key);
});

it('services whose preset says nothing of completion entries get no key', () => {
  expect(
    completionKeyOf(
      ref('workspaceevents.googleapis.com', 'v1beta', 'operations/x'),
    ),
  ).toBeUndefined();
  expect(
    completionKeyOf(ref('example.googleapis.com', 'v1', 'operations/x')),
  ).toBeUndefined();
});

it('every preset with completion events names one service, once', () => {
  const names = SERVICE_PRESETS.flatMap(
    p => p.completionEvents?.serviceName ?? [],
  );
  expect(new Set(names).size).toBe(names.length);
  expect(names.length).toBeGreaterThan(0);
});

it('COMPLETION_EVENTS stretches the default backoff only where an event will come', () => {
  const firestore = ref(
    'firestore.googleapis.com',
    'v1',
    'projects/p/databases/d/operations/A',
  );
  const workspace = ref(
    'workspaceevents.googleapis.com',
    'v1beta',
    'operations/x',
  );
  expect(defaultPollPolicy(firestore, true)).toBe(COMPLETION_EVENTS_POLICY);
  expect(defaultPollPolicy(firestore, false)).toBeUndefined();
  expect(defaultPollPolicy(workspace, true)).toBeUndefined();
});
