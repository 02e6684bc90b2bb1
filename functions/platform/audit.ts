/**
 * The audit trail: one structured log line per registration, cancellation and notification, saying who did what
 * to which operation and topic, and how it ended. Cloud Logging finds them all with `jsonPayload.audit.action:*`.
 */
import type {Logger} from './log';

/** One audited event. */
export interface AuditEvent {
  action: 'register' | 'cancel' | 'notify' | 'watch' | 'unwatch';
  /** Who: the caller for a registration or cancellation, the registration's owner for a notification. */
  principal: string;
  /** The principal's tenant (TENANTS), when it has one. */
  tenant?: string;
  /** How it ended, e.g. `created`, `existing`, `forbidden`, `cancelled`, `succeeded`, `publish_failed`. */
  outcome: string;
  registrationId?: string;
  /** The watch a watch or unwatch is about, or the watch that found the operation notified. */
  watchId?: string;
  /** The watched parent, `https://{service}/{version}/{parent}`. */
  parentUrl?: string;
  operationUrl?: string;
  topic?: string;
}

/** Writes the audit line for `event`. */
export function audit(log: Logger, event: AuditEvent): void {
  log.info(`audit: ${event.action} ${event.outcome}`, {audit: event});
}
