/**
 * The figures of `GET /stats`, read without a scan: Firestore `count()` aggregations over the registrations
 * (each costs one read per 1,000 index entries it counts), one limit-1 query per bucket of a shard with overdue
 * registrations for the oldest of them, and the last hour's per-minute figures (notify/outcome-stats.ts).
 *
 * Every query starts from {@link StatsReader.registrations}, narrowed there to a tenant's registrations when the
 * figures are a tenant's.
 */
import {Timestamp, type Firestore, type Query} from '@google-cloud/firestore';
import pLimit from 'p-limit';
import {STATES, type State} from '../core/model';
import {bucketRange, type BucketRange} from '../core/shards';
import {OVERDUE_AFTER_MS, type Stats} from '../core/stats';
import {readLastHour} from '../notify/outcome-stats';

type ShardStats = Stats['shards'][number];

/** Bucket queries in flight at once while looking for the oldest overdue registration. */
const BUCKET_QUERIES = 32;

const iso = (ms: number) => new Date(ms).toISOString();

async function countOf(query: Query): Promise<number> {
  return (await query.count().get()).data().count;
}

/** Reads the figures of one collection of registrations. */
export class StatsReader {
  constructor(
    private readonly firestore: Firestore,
    private readonly collectionName: string,
    /** POLL_SHARDS. */
    private readonly shards: number,
    /** The names of TENANTS, whose pending registrations the whole deployment's figures count apart. */
    private readonly tenantNames: readonly string[] = [],
    /** The tenant the figures are about; undefined: the whole deployment. */
    private readonly tenant?: string,
  ) {}

  /** The same figures, of one tenant's registrations. */
  forTenant(tenant: string): StatsReader {
    return new StatsReader(
      this.firestore,
      this.collectionName,
      this.shards,
      [],
      tenant,
    );
  }

  /** The registrations the figures are about. */
  private get registrations(): Query {
    const all = this.firestore.collection(this.collectionName);
    return this.tenant === undefined
      ? all
      : all.where('tenant', '==', this.tenant);
  }

  /** Every figure, as of `now`. */
  async read(now: number): Promise<Stats> {
    const cutoff = Timestamp.fromMillis(now - OVERDUE_AFTER_MS);
    const [states, shards, tenants, lastHour] = await Promise.all([
      this.states(),
      Promise.all(
        Array.from({length: this.shards}, (_, shard) =>
          this.shard(shard, cutoff),
        ),
      ),
      this.tenantsPending(),
      readLastHour(this.firestore, this.collectionName, now, this.tenant),
    ]);
    return {
      at: iso(now),
      ...(this.tenant !== undefined && {tenant: this.tenant}),
      states,
      ...(tenants && {tenants}),
      shards,
      oldestOverdue: await this.oldestOverdue(shards, cutoff, now),
      lastHour,
    };
  }

  /** Pending registrations per tenant, for the whole deployment's figures with TENANTS set. */
  private async tenantsPending(): Promise<Stats['tenants']> {
    if (this.tenantNames.length === 0) return undefined;
    const counts = await Promise.all(
      this.tenantNames.map(name =>
        countOf(
          this.registrations
            .where('state', '==', 'pending')
            .where('tenant', '==', name),
        ),
      ),
    );
    return Object.fromEntries(
      this.tenantNames.map((name, i) => [name, {pending: counts[i]}]),
    );
  }

  private async states(): Promise<Record<State, number>> {
    const counts = await Promise.all(
      STATES.map(state =>
        countOf(this.registrations.where('state', '==', state)),
      ),
    );
    return Object.fromEntries(
      STATES.map((state, i) => [state, counts[i]]),
    ) as Record<State, number>;
  }

  /** The pending registrations of a shard's buckets: the due query's index (state, bucket, nextPollAt) serves it. */
  private pendingIn({from, to}: BucketRange): Query {
    return this.registrations
      .where('state', '==', 'pending')
      .where('bucket', '>=', from)
      .where('bucket', '<', to);
  }

  private async shard(shard: number, cutoff: Timestamp): Promise<ShardStats> {
    const buckets = bucketRange(shard, this.shards);
    const [pending, overdue] = await Promise.all([
      countOf(this.pendingIn(buckets)),
      countOf(this.pendingIn(buckets).where('nextPollAt', '<=', cutoff)),
    ]);
    return {shard, buckets, pending, overdue};
  }

  /**
   * The registration due the longest, among the shards with overdue ones: no index orders pending registrations by
   * nextPollAt across buckets (it would be one hot range, tick-run.ts), so each bucket's earliest is read.
   */
  private async oldestOverdue(
    shards: ShardStats[],
    cutoff: Timestamp,
    now: number,
  ): Promise<Stats['oldestOverdue']> {
    const limit = pLimit(BUCKET_QUERIES);
    const earliest = await Promise.all(
      shards
        .filter(shard => shard.overdue > 0)
        .flatMap(({shard, buckets}) =>
          Array.from({length: buckets.to - buckets.from}, (_, i) =>
            limit(async () => {
              const {docs} = await this.registrations
                .where('state', '==', 'pending')
                .where('bucket', '==', buckets.from + i)
                .where('nextPollAt', '<=', cutoff)
                .orderBy('nextPollAt')
                .limit(1)
                .select('nextPollAt')
                .get();
              const due = docs[0]?.get('nextPollAt') as Timestamp | undefined;
              return due && {id: docs[0].id, shard, due: due.toMillis()};
            }),
          ),
        ),
    );
    const oldest = earliest
      .filter(found => found !== undefined)
      .sort((a, b) => a.due - b.due)[0];
    if (!oldest) return null;
    return {
      id: oldest.id,
      shard: oldest.shard,
      nextPollAt: iso(oldest.due),
      overdueSeconds: (now - oldest.due) / 1000,
    };
  }
}
