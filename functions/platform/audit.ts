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
  /**
   * How it ended: for a registration `created`, `existing`, or why it was refused (`invalid`, `forbidden`,
   * `no_tenant`, `over_quota`, `unsupported_media`, `unauthenticated`; a body over the limit is answered 413
   * before the function runs, see http/body-limit.ts); for a cancellation the state it left;
   * for a notification its outcome (`undeliverable` included) or `publish_failed` for a refused attempt.
   */
  outcome: string;
  registrationId?: string;
  /** The watch a watch or unwatch is about, or the watch that found the operation notified. */
  watchId?: string;
  /** The watched parent, `https://{service}/{version}/{parent}`. */
  parentUrl?: string;
  operationUrl?: string;
  /** The watched API's host, for a notification: what the log-based metrics label by. */
  service?: string;
  topic?: string;
  /**
   * For a published notification: milliseconds from the operation's end (the end time it reports, or when a poll
   * first found it ended) to Pub/Sub accepting the notification. The log-based lag metric reads it.
   */
  lagMs?: number;
}

/** Writes the audit line for `event`. */
export function audit(log: Logger, event: AuditEvent): void {
  log.info(`audit: ${event.action} ${event.outcome}`, {audit: event});
}
