/**
 * What a tick is given and what it answers: the poller's dependencies, the trigger that started the tick, its
 * counts, and the view of the running tick that one registration's poll works through (registration-poll.ts).
 */
import type {DocumentSnapshot} from '@google-cloud/firestore';
import type {Allowlists} from '../core/allowlists';
import type {Tenants} from '../core/tenants';
import type {PollUpdate} from '../core/document';
import type {BucketRange} from '../core/shards';
import type {KindDurations} from '../forecast/kind-durations';
import type {OperationsClient} from '../google/operations-client';
import type {NotificationStats} from '../notify/outcome-stats';
import type {NotificationSink} from '../notify/publisher';
import type {LogThrottle, Logger} from '../platform/log';
import type {WatchStore} from '../watches/watch-store';
import type {DueRegistrations} from './due-registrations';
import type {PollLease} from './lease';
import type {ShardLayout} from './shard-layout';
import type {LeaseTimings} from './lease-timings';

/** What a tick did: the poll function's answer. */
export interface TickCounts {
  polled: number;
  succeeded: number;
  failed: number;
  expired: number;
  notFound: number;
  pollErrors: number;
  retried: number;
  published: number;
  /** Watches ended `undeliverable`: Pub/Sub refused their notification past the deadline and the grace. */
  undeliverable: number;
  /** Stored documents this version cannot read, ended `poll_error` (kind `corrupt`) or skipped. */
  corrupt: number;
  /**
   * The longest any registration polled in this tick had been due, in milliseconds: how far behind the poller
   * runs (the dashboard's backlog).
   */
  maxLateMs: number;
  /** Watched parents listed (each list is one or more `ListOperations` pages). */
  listed: number;
  durationMs: number;
  /** True when another tick held the lease (and was not about to hand it over) and this one did nothing. */
  leaseHeld?: boolean;
}

/**
 * Who started a tick, which sets how long it polls: Cloud Scheduler's tick for its budget, a slot that the next
 * scheduled tick takes over from; a registration's wake (tick-wake.ts) to the end of the slot it falls in, or for a
 * whole budget, as the slot, when no scheduled tick's slot is running; a completion event for its own budget.
 */
export type TickTrigger = 'scheduler' | 'registration' | 'completion';

/** What a tick lists watched parents with. */
export interface WatchListing {
  store: WatchStore;
  /** LIST_INTERVAL_SECONDS: a watch lists its parent at most this often. */
  listIntervalMs: number;
}

/** What a tick works with. */
export interface PollerDependencies {
  due: DueRegistrations;
  /** Makes the lease of one tick on one shard's buckets. */
  lease: (holder: string, range: BucketRange) => PollLease;
  /** Which shard layout polls while POLL_SHARDS changes; without it, every lease holder works. */
  layout?: ShardLayout;
  client: OperationsClient;
  /** Checked again before every poll: a registration the current lists refuse ends `poll_error` (`forbidden`). */
  allowlists: Allowlists;
  /** TENANTS, checked with the allowlists: a registration's tenant's lists, and that the tenant still exists. */
  tenants?: Tenants;
  sink: NotificationSink;
  log: Logger;
  /** Watched parents, listed by the tick of their shard; without it, no watch is listed. */
  watches?: WatchListing;
  /** Learned durations per kind; without it, forecasts use progress and the owners' settings only. */
  kinds?: KindDurations;
  /** The per-minute outcome and lag figures `GET /stats` reads; written at the end of each tick. */
  stats?: NotificationStats;
  budgetMs: number;
  concurrency: number;
  leaseMs: number;
  /**
   * How long a tick waits for a holder at the end of its budget to hand the lease over (0: stand down at once).
   * Long enough for a holder's usual end: its last polls, the flush and the release.
   */
  handOverMs?: number;
  /**
   * How long from its first refusal a notification Pub/Sub refuses is retried before the watch ends `undeliverable`
   * (at least three tries over at least a minute, whatever this says).
   */
  publishGraceMs: number;
  /** Full topic name that also gets an `undeliverable` watch's notification, with the publish error attached. */
  deadLetterTopic?: string;
  /** While nothing is due, how often to look again; 1 s unless set (the benchmark runs ticks in compressed time). */
  idleRecheckMs?: number;
  /** The clock, with `sleep`: the benchmark runs ticks on a compressed one. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Counts of a tick that has done nothing yet. */
export function newTickCounts(): TickCounts {
  return {
    polled: 0,
    succeeded: 0,
    failed: 0,
    expired: 0,
    notFound: 0,
    pollErrors: 0,
    retried: 0,
    published: 0,
    undeliverable: 0,
    corrupt: 0,
    maxLateMs: 0,
    listed: 0,
    durationMs: 0,
  };
}

/** The running tick, as one registration's poll sees it (implemented by tick-run.ts). */
export interface TickContext {
  readonly deps: PollerDependencies;
  readonly timings: LeaseTimings;
  readonly counts: TickCounts;
  /** Across ticks, so a topic refused on every retry logs once a minute. */
  readonly throttle: LogThrottle;
  readonly now: () => number;
  readonly random: () => number;
  /** Whether a poll may start now: the tick goes on, within its budget and its lease. */
  mayStart(): boolean;
  /** Whether the tick was stopped: its lease lost, or Firestore failing. */
  stopped(): boolean;
  /** True, and the tick stops, once the lease could run out before a poll's publish and write are done. */
  fenced(): boolean;
  /**
   * Runs `work` on the registration of `snapshot` unless it is another shard's, or the tick is polling it, or
   * wrote it after `snapshot` was read: a list's entry and a poll never both publish one registration's
   * notification.
   */
  exclusive(
    snapshot: DocumentSnapshot,
    work: () => Promise<void>,
  ): Promise<void>;
  /** Writes a poll's result within the write deadline, unless the document changed since it was read. */
  write(snapshot: DocumentSnapshot, update: PollUpdate): Promise<WriteResult>;
}

/** Whether a registration falls due, or a watch is due to list, in `range` before `by`. */
export async function anyWorkBefore(
  deps: Pick<PollerDependencies, 'due' | 'watches'>,
  range: BucketRange,
  by: number,
): Promise<boolean> {
  return (
    (await deps.due.anyDueBefore(range, by)) ||
    ((await deps.watches?.store.anyDueBefore(range, by)) ?? false)
  );
}

/**
 * What became of a poll's write. Not written: the document changed since it was read (a cancel, a newer tick),
 * Firestore failed (the tick stops), or, with `refused`, the update itself cannot be stored: the registration's
 * own fault, which its poll charges to it (registration-poll.ts).
 */
export interface WriteResult {
  written: boolean;
  /** The document changed since it was read. */
  conflict?: boolean;
  refused?: string;
}
