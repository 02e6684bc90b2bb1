/**
 * The poll function's work, apart from HTTP: one tick of a shard's buckets, or a Scheduler tick's fan-out to one
 * message per shard. Built from the configuration on the thread that runs it (tick-thread.ts), which is also where
 * its clients live: the Firestore and Pub/Sub connections, the token cache, the learned durations.
 */
import type {Firestore} from '@google-cloud/firestore';
import {PubSub} from '@google-cloud/pubsub';
import type {PollerConfig} from '../core/config';
import {within} from '../platform/deadline';
import {newFirestore} from '../platform/firestore';
import {OperationsClient} from '../google/operations-client';
import type {Logger} from '../platform/log';
import {NotificationStats} from '../notify/outcome-stats';
import {PubSubPublisher, type NotificationSink} from '../notify/publisher';
import {DueRegistrations} from './due-registrations';
import {KindDurations} from '../forecast/kind-durations';
import {WatchStore} from '../watches/watch-store';
import {PollLease} from './lease';
import {leaseTimings} from './lease-timings';
import {memoryBudget} from './memory-budget';
import {ShardLayout} from './shard-layout';
import {shardMessage} from './poll-request';
import {Poller} from './poller';
import type {TickCounts, TickTrigger} from './tick-context';
import {leaseId, type BucketRange} from '../core/shards';

/** What a call of the poll function does, once its request is read. */
export interface PollWork {
  /** One tick of the registrations of the buckets in `range`. */
  tick(range: BucketRange, trigger: TickTrigger): Promise<TickCounts>;
  /** Publishes one `{"shard": k}` message per shard to the fan-out topic; resolves with how many. */
  fanOut(): Promise<number>;
}

/** The publisher of notifications (and fan-out messages), its publishes bounded by the lease's publish timeout. */
export function newPublisher(config: PollerConfig): PubSubPublisher {
  return new PubSubPublisher(
    new PubSub({projectId: config.projectId}),
    leaseTimings(config.leaseMs).publishTimeoutMs,
  );
}

/** The poller of `config`, with ticks of `budgetMs`, one lease per shard's bucket range. */
export function newPoller(
  config: PollerConfig,
  db: Firestore,
  budgetMs: number,
  sink: NotificationSink,
  log: Logger,
): Poller {
  return new Poller({
    due: new DueRegistrations(db, config.collection, config.retentionMs),
    lease: (holder, range) =>
      new PollLease(
        db,
        config.collection,
        holder,
        config.leaseMs,
        Date.now,
        leaseId(range),
      ),
    layout: new ShardLayout(db, config.collection, config.shards),
    client: new OperationsClient({
      ...config,
      maxAnswerBytes: memoryBudget(config).maxAnswerBytes,
    }),
    allowlists: config.allowlists,
    tenants: config.tenants,
    kinds: new KindDurations(
      db,
      config.collection,
      log,
      Date.now,
      leaseTimings(config.leaseMs).writeDeadlineMs,
    ),
    stats: new NotificationStats(db, config.collection),
    watches: {
      store: new WatchStore(db, config.collection, config.retentionMs),
      listIntervalMs: config.listIntervalMs,
    },
    sink,
    log,
    budgetMs,
    concurrency: config.concurrency,
    leaseMs: config.leaseMs,
    handOverMs: config.handOverMs,
    publishGraceMs: config.publishGraceMs,
    deadLetterTopic: config.deadLetterTopic,
  });
}

/** The poll function's work under `config`: ticks of POLL_BUDGET_SECONDS, fan-out to POLL_FANOUT_TOPIC. */
export function createPollWork(config: PollerConfig, log: Logger): PollWork {
  const sink = newPublisher(config);
  const poller = newPoller(
    config,
    newFirestore(config.projectId),
    config.budgetMs,
    sink,
    log,
  );
  return {
    tick: (range, trigger) => poller.tick(range, trigger),
    async fanOut() {
      const shards = Array.from({length: config.shards}, (_, shard) => shard);
      const {publishTimeoutMs} = leaseTimings(config.leaseMs);
      await Promise.all(
        shards.map(shard =>
          within(
            sink.publish(config.fanoutTopic!, shardMessage(shard)),
            publishTimeoutMs,
            `publishing the fan-out to shard ${shard}`,
            'Pub/Sub',
          ),
        ),
      );
      return shards.length;
    },
  };
}
