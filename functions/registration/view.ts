/**
 * A registration as the API shows it (registrationViewSchema in core/schemas.ts): times in RFC 3339, durations
 * as google.protobuf.Duration strings, and absent fields left out.
 */
import type {Registration} from '../core/model';
import {formatDuration, type RegistrationView} from '../core/schemas';
import type {EndedWatch} from './store';

function iso(ms: number): string;
function iso(ms: number | undefined): string | undefined;
function iso(ms: number | undefined) {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/**
 * A registration as the API shows it: times in RFC 3339, durations as google.protobuf.Duration strings.
 * @param previous the ended watch this registration replaced, shown as `previous` in the answer that replaced it.
 */
export function toApiView(
  registration: Registration,
  previous?: EndedWatch,
): RegistrationView {
  const view: RegistrationView = {
    id: registration.id,
    owner: registration.owner,
    tenant: registration.tenant,
    state: registration.state,
    operationUrl: registration.operation.url,
    watchId: registration.watchId,
    service: registration.operation.service,
    version: registration.operation.version,
    name: registration.operation.name,
    topic: registration.topic,
    labels: registration.labels,
    timeout: formatDuration(registration.timeoutMs),
    scopes: registration.scopes,
    subject: registration.subject,
    pollPolicy: registration.pollPolicy && {
      initialDelay: formatDuration(registration.pollPolicy.initialDelayMs),
      multiplier: registration.pollPolicy.multiplier,
      maxDelay: formatDuration(registration.pollPolicy.maxDelayMs),
      jitter: registration.pollPolicy.jitter,
    },
    attempts: registration.attempts,
    createdAt: iso(registration.createdAt),
    updatedAt: iso(registration.updatedAt),
    deadline: iso(registration.deadline),
    lastPolledAt: iso(registration.lastPolledAt),
    nextPollAt:
      registration.state === 'pending'
        ? iso(registration.nextPollAt)
        : undefined,
    finishedAt: iso(registration.finishedAt),
    ...(registration.state === 'pending' && {
      progressPercent: registration.progressPercent,
      estimatedDoneAt: iso(registration.estimatedDoneAt),
    }),
    lastError: registration.lastError,
    lastOperation: registration.lastOperation,
    previous: previous && {
      state: previous.state,
      finishedAt: iso(previous.finishedAt),
      attempts: previous.attempts,
      lastError: previous.lastError,
    },
  };
  // Leaves absent fields out rather than keeping them as undefined keys.
  return JSON.parse(JSON.stringify(view));
}
