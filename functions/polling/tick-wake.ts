/**
 * Wakes the poller for a new registration that no tick would poll before Cloud Scheduler's next call.
 *
 * A new registration is due at once. A tick at work polls it at its next look, within a second. But a tick with
 * nothing due ends early, to spare the instance, and until Cloud Scheduler calls again, up to a minute later,
 * nothing polls. So once a create has landed, the registration function reads the lease of the registration's
 * shard, and when no tick holds it, the holder's polling ends within {@link HOLDER_LOOKS_MS}, or the holder stopped
 * renewing (a crash: the woken tick takes its lease as soon as it runs out, lease.ts), it publishes
 * `{"shard": k, "wake": true}` to the poll fan-out topic, whose push subscription starts a tick of that shard (one
 * that polls to the end of the scheduled slot, where the next scheduled tick takes over: poller.ts).
 *
 * Why no registration slips between the read and a tick that is ending: a tick that ends for want of due work
 * releases the lease and then looks for due registrations once more (poller.ts). A read that saw the lease held
 * came before that release, after the create, so that last look finds the registration.
 *
 * The cost stays off the request path's hot end: one read serves every create that landed before it started, and
 * an instance publishes one wake per lease state: again only once the lease has changed (the woken tick claimed
 * it) or after {@link WAKE_AGAIN_MS}, in case a wake was lost. A failed read or publish is logged and costs only
 * the wait for the next scheduled tick; the registration itself is stored.
 */
import {setImmediate as nextTurn} from 'node:timers/promises';
import type {Firestore} from '@google-cloud/firestore';
import {LogThrottle, type Logger} from '../platform/log';
import {within} from '../platform/deadline';
import {leaseRef, readLease, silent, type LeaseState} from './lease';
import {bucketRange, leaseId, shardOwning} from '../core/shards';

/** A holder whose polling goes on at least this long looks again (every second while idle) before it ends. */
export const HOLDER_LOOKS_MS = 2_000;
/** How long an instance trusts a wake it sent and that no tick has claimed the lease for yet. */
export const WAKE_AGAIN_MS = 15_000;
/** The longest a wake may hold a registration's answer: a lease read, then a publish. */
const WAKE_TIMEOUT_MS = 5_000;
/** How often a failing wake is logged. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/** What a tick wake works with. */
export interface TickWakeDependencies {
  firestore: Firestore;
  collection: string;
  /** POLL_SHARDS: which lease, and which tick, a registration belongs to. */
  shards: number;
  /** Asks for a tick of `shard`: publishes its wake message (in the benchmark, runs the tick). */
  send: (shard: number) => Promise<unknown>;
  log: Logger;
  now?: () => number;
}

/** Whether two lease reads show the same write. */
function sameWrite(a: LeaseState, b: LeaseState): boolean {
  if (!a.updatedAt || !b.updatedAt) return a.updatedAt === b.updatedAt;
  return a.updatedAt.isEqual(b.updatedAt);
}

/** Wakes a tick for new registrations; one per registration function instance. */
export class TickWake {
  /** Per shard, the lease read not started yet, which every create stored before it starts shares. */
  private readonly looks = new Map<number, Promise<void>>();
  /** Per shard, the lease as it was when this instance last sent a wake, and when. */
  private readonly sent = new Map<number, {lease: LeaseState; at: number}>();
  private readonly now: () => number;
  private readonly throttle: LogThrottle;

  constructor(private readonly deps: TickWakeDependencies) {
    this.now = deps.now ?? Date.now;
    this.throttle = new LogThrottle(FAILURE_LOG_INTERVAL_MS, this.now);
  }

  /** Call once registration `id`'s create has landed; resolves once a tick is sure to poll it soon. Never rejects. */
  registered(id: string): Promise<void> {
    const shard = shardOwning(id, this.deps.shards);
    let look = this.looks.get(shard);
    if (!look) {
      // Started on the next turn of the event loop, so that every create that landed by then shares the read.
      look = nextTurn().then(() => {
        this.looks.delete(shard);
        return this.look(shard);
      });
      this.looks.set(shard, look);
    }
    return look;
  }

  private async look(shard: number): Promise<void> {
    try {
      await within(this.wakeIfIdle(shard), WAKE_TIMEOUT_MS, 'waking a tick');
    } catch (error) {
      this.sent.delete(shard);
      const held = this.throttle.pass(String(shard));
      if (held === undefined) return;
      this.deps.log.warn(
        'no tick woken for new registrations: the next scheduled tick polls them',
        {
          shard,
          error: (error as Error).message,
          ...(held > 0 && {alsoFailedSinceLastLine: held}),
        },
      );
    }
  }

  private async wakeIfIdle(shard: number): Promise<void> {
    const name = leaseId(bucketRange(shard, this.deps.shards));
    const lease = await readLease(
      leaseRef(this.deps.firestore, this.deps.collection, name),
    );
    const now = this.now();
    const pollsUntil = lease.pollsUntil ?? Infinity;
    // A holder presumed dead (it stopped renewing) polls nothing: the woken tick takes its lease as it runs out.
    if (
      lease.until > now &&
      pollsUntil > now + HOLDER_LOOKS_MS &&
      !silent(lease, now)
    )
      return;
    const last = this.sent.get(shard);
    if (last && sameWrite(last.lease, lease) && now < last.at + WAKE_AGAIN_MS)
      return;
    this.sent.set(shard, {lease, at: now});
    await this.deps.send(shard);
  }
}
