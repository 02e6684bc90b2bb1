/**
 * A registration as validation makes it, for tests that store one directly: past the API, so past its floors on
 * `pollPolicy`, which bound abuse in real time, not a test's.
 */
import type {NewRegistration} from '../../functions/core/model';

export function newRegistration(
  service: string,
  name: string,
  topic: string,
  extra: Partial<NewRegistration> = {},
): NewRegistration {
  return {
    operation: {
      service,
      version: 'v1',
      name,
      url: `https://${service}/v1/${name}`,
    },
    topic,
    labels: {},
    timeoutMs: 600_000,
    scopes: [],
    style: 'longrunning',
    ...extra,
  };
}
