/**
 * The scale model: from the measured per-instance figures, what 100,000 and 1,000,000 pending registrations
 * need (poll instances, Firestore writes per index range) and what 1,000 watched operations cost, priced from
 * the published list prices below, each with its source.
 */
import {BUCKETS} from '../functions/core/shards';

/** A list price and where it is published. */
export interface Price {
  usd: number;
  per: string;
  source: string;
}

/**
 * List prices, USD, in us-central1 (Cloud Run Tier 1), without free tiers or discounts, as published when
 * this model was written. The poll function is a Cloud Run functions (gen2) service, billed as Cloud Run with
 * CPU allocated only during requests.
 */
export const PRICES = {
  firestoreRead: {
    usd: 0.03 / 100_000,
    per: 'document read ($0.03 per 100,000, regional us-central1)',
    source: 'https://cloud.google.com/firestore/pricing',
  },
  firestoreWrite: {
    usd: 0.09 / 100_000,
    per: 'document write ($0.09 per 100,000, regional us-central1)',
    source: 'https://cloud.google.com/firestore/pricing',
  },
  cpuSecond: {
    usd: 0.000024,
    per: 'vCPU-second (CPU allocated during requests, Tier 1)',
    source: 'https://cloud.google.com/run/pricing',
  },
  memoryGiBSecond: {
    usd: 0.0000025,
    per: 'GiB-second (Tier 1)',
    source: 'https://cloud.google.com/run/pricing',
  },
  request: {
    usd: 0.4 / 1_000_000,
    per: 'request ($0.40 per million)',
    source: 'https://cloud.google.com/run/pricing',
  },
  pubsubByte: {
    usd: 40 / 2 ** 40,
    per: 'byte of publish or delivery throughput ($40 per TiB; at least 1,000 bytes per request)',
    source: 'https://cloud.google.com/pubsub/pricing',
  },
} satisfies Record<string, Price>;

/** Firestore's limit for writes with sequentially indexed values, per index range. */
export const SEQUENTIAL_WRITES_PER_RANGE = 500;
export const SEQUENTIAL_WRITES_SOURCE =
  'https://firebase.google.com/docs/firestore/solutions/shard-timestamp';

/** The poll function's instance, as infra/functions.tf deploys it. */
const POLL_VCPU = 1;
const POLL_MEMORY_GIB = 0.5;
/** A notification (about 1 KB) is billed at least 1,000 bytes, once published and once delivered. */
const NOTIFICATION_BILLED_BYTES = 2 * 1000;
/** One poll per pending registration per minute: the default policy's cap between polls. */
const CADENCE_SECONDS = 60;

/** What the model is built from. */
export interface ModelInputs {
  /** Polls per second one poll instance sustains while a tick runs. */
  pollsPerSecond: number;
  /** Seconds of each minute a tick works (POLL_BUDGET_SECONDS). */
  budgetSeconds: number;
  /** Polls per watched operation, over its life. */
  pollsPerOperation: number;
  /** Billed seconds of one registration request. */
  registrationSeconds: number;
}

/** The model at one number of pending registrations. */
export interface ScalePoint {
  pending: number;
  pollsPerSecond: number;
  instances: number;
  writesPerSecond: number;
  writesPerIndexRange: number;
  withinWriteLimit: boolean;
}

/** What 1,000 watched operations cost, by part, USD. */
export interface CostPerThousand {
  firestoreReads: number;
  firestoreWrites: number;
  functionTime: number;
  pubsub: number;
  total: number;
}

/** Instances and writes for `pending` registrations polled once a minute. */
export function scalePoint(inputs: ModelInputs, pending: number): ScalePoint {
  const pollsPerSecond = pending / CADENCE_SECONDS;
  const perInstance =
    (inputs.pollsPerSecond * inputs.budgetSeconds) / CADENCE_SECONDS;
  // One write per poll; the (state, bucket, nextPollAt) index spreads them over one range per bucket.
  const writesPerIndexRange = pollsPerSecond / BUCKETS;
  return {
    pending,
    pollsPerSecond,
    instances: Math.ceil(pollsPerSecond / perInstance),
    writesPerSecond: pollsPerSecond,
    writesPerIndexRange,
    withinWriteLimit: writesPerIndexRange <= SEQUENTIAL_WRITES_PER_RANGE,
  };
}

/**
 * The cost of 1,000 watched operations: each is registered (a request and a create), polled
 * `pollsPerOperation` times (a read and a write each, and the poll instance's time) and notified once.
 */
export function costPerThousand(inputs: ModelInputs): CostPerThousand {
  const instanceSecond =
    POLL_VCPU * PRICES.cpuSecond.usd +
    POLL_MEMORY_GIB * PRICES.memoryGiBSecond.usd;
  const perOperation = {
    firestoreReads: inputs.pollsPerOperation * PRICES.firestoreRead.usd,
    firestoreWrites: (inputs.pollsPerOperation + 1) * PRICES.firestoreWrite.usd,
    functionTime:
      (inputs.pollsPerOperation / inputs.pollsPerSecond) * instanceSecond +
      inputs.registrationSeconds * instanceSecond +
      PRICES.request.usd,
    pubsub: NOTIFICATION_BILLED_BYTES * PRICES.pubsubByte.usd,
  };
  const parts = Object.fromEntries(
    Object.entries(perOperation).map(([key, usd]) => [key, usd * 1000]),
  ) as Omit<CostPerThousand, 'total'>;
  return {
    ...parts,
    total: Object.values(parts).reduce((sum, usd) => sum + usd, 0),
  };
}
