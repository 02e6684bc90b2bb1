/**
 * The last hour of notifications, kept so that `GET /stats` never reads a registration: the poller adds what it
 * published to one small document per minute and scope (`<collection>_stats`, id `m<epoch minute>` for the whole
 * deployment, `m<epoch minute>-<tenant>` for a tenant's), as increments: a count per outcome and a histogram of
 * the notification lag. Reading the last hour of a scope sums at most 60 of them.
 *
 * Why a stored histogram: a percentile cannot be had from Firestore's aggregations (count, sum, average), and
 * reading the hour's notifications would be a scan. The buckets are Cloud Monitoring's exponential ones, the same
 * the log-based lag metric uses (infra/monitoring.tf, held to {@link LAG_HISTOGRAM} by test/infra), so `opwatch
 * stats` and the dashboard agree to within a bucket (19 % wide).
 *
 * Writes are batched per tick (one merge of increments per minute touched), so a minute's document sees a few
 * writes a minute, not one per notification. A failed write costs those figures, never a notification.
 */
import {FieldValue, Timestamp, type Firestore} from '@google-cloud/firestore';
import {outcomeSchema, type Outcome} from '../core/model';

/**
 * Lag buckets, in milliseconds: bucket 0 is below `scaleMs`; bucket k (1..finiteBuckets) is
 * [scaleMs·g^(k-1), scaleMs·g^k) with g the growth factor; the last one is everything above (about 14.6 h).
 */
export const LAG_HISTOGRAM = {
  scaleMs: 50,
  growthFactor: 2 ** 0.25,
  finiteBuckets: 80,
} as const;

const MINUTE_MS = 60_000;
/** Minute documents are deleted a day after their minute (TTL on `expireAt`, infra/firestore.tf). */
const KEEP_MS = 86_400_000;
/** The minutes summed as "the last hour": this one and the 59 before. */
const HOUR_MINUTES = 60;

/** The bucket of a lag. */
export function lagBucket(lagMs: number): number {
  const {scaleMs, growthFactor, finiteBuckets} = LAG_HISTOGRAM;
  if (!(lagMs >= scaleMs)) return 0;
  const k = Math.floor(Math.log(lagMs / scaleMs) / Math.log(growthFactor)) + 1;
  return Math.min(k, finiteBuckets + 1);
}

/** The bounds of bucket k, lower inclusive, upper exclusive (Infinity for the last). */
export function bucketBounds(k: number): [number, number] {
  const {scaleMs, growthFactor, finiteBuckets} = LAG_HISTOGRAM;
  if (k === 0) return [0, scaleMs];
  const upper = k > finiteBuckets ? Infinity : scaleMs * growthFactor ** k;
  return [scaleMs * growthFactor ** (k - 1), upper];
}

/**
 * The q-quantile (0 < q <= 1) of a histogram, interpolated within its bucket as Cloud Monitoring does; the lower
 * bound of the last bucket when it falls there; undefined for an empty histogram.
 */
export function histogramQuantile(
  buckets: ReadonlyMap<number, number>,
  q: number,
): number | undefined {
  const total = [...buckets.values()].reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (const k of [...buckets.keys()].sort((a, b) => a - b)) {
    const count = buckets.get(k)!;
    if (count > 0 && below + count >= rank) {
      const [lower, upper] = bucketBounds(k);
      if (upper === Infinity) return lower;
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return undefined;
}

/** The scope of the whole deployment's figures; a tenant's is its name, which cannot be this. */
const DEPLOYMENT = '*';

/** One minute's figures of one scope, as a tick gathers them before writing. */
interface MinuteFigures {
  minute: number;
  scope: string;
  outcomes: Map<Outcome, number>;
  lag: Map<number, number>;
}

const add = <K>(map: Map<K, number>, key: K) =>
  map.set(key, (map.get(key) ?? 0) + 1);

/** The poller's side: gathers a tick's notifications, written as increments by {@link flush}. */
export class NotificationStats {
  /** By document id. */
  private minutes = new Map<string, MinuteFigures>();

  constructor(
    private readonly firestore: Firestore,
    private readonly collectionName: string,
  ) {}

  /**
   * A watch ended with `outcome` at `at`; `lagMs` when its notification was published. It counts in the whole
   * deployment's figures and, for a registration of a tenant, in that tenant's.
   */
  record(outcome: Outcome, at: number, lagMs?: number, tenant?: string): void {
    const minute = Math.floor(at / MINUTE_MS);
    for (const scope of tenant === undefined
      ? [DEPLOYMENT]
      : [DEPLOYMENT, tenant]) {
      const id = minuteDocumentId(minute, scope);
      let figures = this.minutes.get(id);
      if (!figures) {
        figures = {minute, scope, outcomes: new Map(), lag: new Map()};
        this.minutes.set(id, figures);
      }
      add(figures.outcomes, outcome);
      if (lagMs !== undefined) add(figures.lag, lagBucket(lagMs));
    }
  }

  /** Writes what was gathered, one merge of increments per minute; what it took is not written twice. */
  async flush(): Promise<void> {
    const minutes = this.minutes;
    if (minutes.size === 0) return;
    this.minutes = new Map();
    const collection = statsCollection(this.firestore, this.collectionName);
    const increments = <K>(counts: Map<K, number>, key: (k: K) => string) =>
      Object.fromEntries(
        [...counts].map(([k, n]) => [key(k), FieldValue.increment(n)]),
      );
    await Promise.all(
      [...minutes].map(([id, {minute, scope, ...figures}]) =>
        collection.doc(id).set(
          {
            minute,
            scope,
            expireAt: Timestamp.fromMillis((minute + 1) * MINUTE_MS + KEEP_MS),
            outcomes: increments(figures.outcomes, String),
            lag: increments(figures.lag, k => `b${k}`),
          },
          {merge: true},
        ),
      ),
    );
  }
}

/** The last hour as `GET /stats` shows it. */
export interface LastHour {
  /** Watches ended, by outcome (undeliverable ones included: their notification was not accepted). */
  notifications: Record<Outcome, number>;
  /** Lag of the published notifications: how many, and the median and 99th percentile, in seconds. */
  lagSeconds: {count: number; p50: number | null; p99: number | null};
}

/** Sums the minute documents of the last hour, of one tenant or of the whole deployment: at most 60 reads. */
export async function readLastHour(
  firestore: Firestore,
  collectionName: string,
  now: number,
  tenant?: string,
): Promise<LastHour> {
  const since = Math.floor(now / MINUTE_MS) - (HOUR_MINUTES - 1);
  const snapshot = await statsCollection(firestore, collectionName)
    .where('scope', '==', tenant ?? DEPLOYMENT)
    .where('minute', '>=', since)
    .get();
  const notifications = Object.fromEntries(
    outcomeSchema.options.map(outcome => [outcome, 0]),
  ) as Record<Outcome, number>;
  const lag = new Map<number, number>();
  for (const document of snapshot.docs) {
    const {outcomes = {}, lag: buckets = {}} = document.data() as {
      outcomes?: Record<string, unknown>;
      lag?: Record<string, unknown>;
    };
    for (const outcome of outcomeSchema.options)
      notifications[outcome] += countOf(outcomes[outcome]);
    for (const [key, value] of Object.entries(buckets)) {
      const k = Number(key.slice(1));
      if (/^b\d+$/.test(key)) lag.set(k, (lag.get(k) ?? 0) + countOf(value));
    }
  }
  const seconds = (q: number) => {
    const ms = histogramQuantile(lag, q);
    return ms === undefined ? null : Math.round(ms) / 1000;
  };
  const count = [...lag.values()].reduce((sum, n) => sum + n, 0);
  return {
    notifications,
    lagSeconds: {count, p50: seconds(0.5), p99: seconds(0.99)},
  };
}

/** A stored count; anything else (a hand-edited document) counts as none. */
function countOf(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0
    ? value
    : 0;
}

function minuteDocumentId(minute: number, scope: string): string {
  return scope === DEPLOYMENT ? `m${minute}` : `m${minute}-${scope}`;
}

function statsCollection(firestore: Firestore, collectionName: string) {
  return firestore.collection(`${collectionName}_stats`);
}
