/**
 * How a tick spends its lease: the renewal cadence, and the bounds on the steps a poll may still take. Pure, apart
 * from the lease itself (lease.ts), so the configuration can check its timings without loading a Firestore client.
 */
import type {PollerConfig} from '../core/config';
import {PUBLISH_TIMEOUT_MS} from '../notify/publisher';

/** How a tick spends its lease: when it renews, and how long the steps a poll may still take can last. */
export interface LeaseTimings {
  /** Wait between the end of one renewal and the start of the next: renewals never overlap. */
  renewEveryMs: number;
  /** Bound on one publish, retries included. */
  publishTimeoutMs: number;
  /** Bound on one poll's state write. */
  writeDeadlineMs: number;
  /**
   * The longest a poll can still take once it decides to publish (its publish, then its write): a poll publishes
   * only while more than this is left of the lease, so it is done before the next holder can read its registration.
   */
  fenceMarginMs: number;
}

/**
 * The timings for a lease of `leaseMs`. The publish and the write get a quarter of the lease each (the publish at
 * most {@link PUBLISH_TIMEOUT_MS}), so the margin is at most half the lease; renewals come every sixth of it, so a
 * tick is fenced only once a renewal is late by more than a third of the lease.
 */
export function leaseTimings(leaseMs: number): LeaseTimings {
  const quarter = leaseMs / 4;
  const publishTimeoutMs = Math.min(PUBLISH_TIMEOUT_MS, quarter);
  return {
    renewEveryMs: leaseMs / 6,
    publishTimeoutMs,
    writeDeadlineMs: quarter,
    fenceMarginMs: publishTimeoutMs + quarter,
  };
}

/**
 * Firestore calls, each bounded by the lease, that can follow the budget: the last poll's write, the renewal under
 * way, the flush, the learned durations' write, the release.
 */
export const TICK_END_FIRESTORE_CALLS = 5;

/**
 * The longest a tick can run past its budget: its last polls' request and publish (within the publish timeout
 * the lease allows, polling/lease.ts), then {@link TICK_END_FIRESTORE_CALLS} calls within the lease. The
 * function's timeout must exceed budget + this (infra/functions.tf's precondition says the same).
 */
export function tickEndMs(
  config: Pick<PollerConfig, 'requestTimeoutMs' | 'leaseMs'>,
): number {
  return (
    config.requestTimeoutMs +
    leaseTimings(config.leaseMs).publishTimeoutMs +
    TICK_END_FIRESTORE_CALLS * config.leaseMs
  );
}
