/**
 * What 1,000 watched operations cost, priced from the list prices kept as data (data/prices.json, each with its
 * source, when it was read and whether it is an assumption), for opwatch and for two ways a peer runs:
 *
 * - opwatch as deployed: each operation's registration (a request to the `operations` function, its Firestore
 *   reads and writes), its share of the `poll` function's ticks (invocations and instance time at the steady
 *   state's load), its polls' reads and writes, its notification (Pub/Sub bytes, published and delivered) and the
 *   TTL delete of its document;
 * - Cloud Workflows: a workflow per operation whose connector polls (each polling attempt an internal step),
 *   plus the steps around it, and the same notification;
 * - a long-running client loop on Cloud Run: one instance, CPU always allocated, of the poll function's size,
 *   holding every pending operation's loop in memory, and the same notification.
 */
import {existsSync, readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import type {Deployment} from './deployed';

/** One price, as kept in data/prices.json. */
export interface Price {
  usd: number;
  unit: string;
  quote: string;
  source: string;
  status: 'official' | 'third-party' | 'assumption';
}

/** The price list: when it was read, and each price. */
export interface PriceList {
  read: string;
  prices: Record<PriceKey, Price>;
}

type PriceKey =
  | 'firestoreRead'
  | 'firestoreWrite'
  | 'firestoreDelete'
  | 'functionCpuSecond'
  | 'functionMemoryGiBSecond'
  | 'functionRequest'
  | 'alwaysOnCpuSecond'
  | 'alwaysOnMemoryGiBSecond'
  | 'pubsubByte'
  | 'workflowsInternalStep';

/** bench/data/prices.json, beside this file in the source tree (tests) or two levels up from dist/bench/. */
export function loadPrices(): PriceList {
  const beside = join(__dirname, 'data', 'prices.json');
  const file = existsSync(beside)
    ? beside
    : resolve(__dirname, '..', '..', 'bench', 'data', 'prices.json');
  return JSON.parse(readFileSync(file, 'utf8')) as PriceList;
}

/** Steps of a minimal workflow besides its connector's polls: the connector call, the publish, the return. */
export const WORKFLOW_EXTRA_STEPS = 3;
/** Pub/Sub bills at least this many bytes a request. */
const MIN_BILLED_BYTES = 1000;
/** Cloud Run functions give a 256 MiB function this share of a vCPU (assumed from Cloud Functions' size table). */
const CPU_PER_MIB = 1 / 1536;

/** What the cost of opwatch is read from: the steady state's measurements, per poll and per registration. */
export interface CostInputs {
  deployment: Deployment;
  perPoll: {reads: number; writes: number};
  /**
   * The poll function's billed instance seconds and invocations per operation: under a steady load a tick is a
   * request for its whole budget, so they follow the time the operations arrive over, not their polls.
   */
  perOperation: {instanceSeconds: number; invocations: number};
  perRegistration: {reads: number; writes: number; seconds: number};
  notificationBytes: number;
  /** Operations per second at which the figures were measured; the loop's instance is shared by them too. */
  ratePerSecond: number;
}

/** What 1,000 operations use of each billed thing. */
export interface Quantities {
  invocations: number;
  cpuSeconds: number;
  memoryGiBSeconds: number;
  reads: number;
  writes: number;
  deletes: number;
  pubsubBytes: number;
  workflowSteps: number;
}

/** Quantities for 1,000 operations, what each costs, and their price. */
export interface CostBreakdown {
  system: string;
  quantities: Quantities;
  usd: Partial<Record<keyof Quantities, number>>;
  totalUsd: number;
}

/** The price each quantity of a system is billed at; a quantity left out is not billed there. */
type BilledAs = Partial<Record<keyof Quantities, PriceKey>>;

const none: Quantities = {
  invocations: 0,
  cpuSeconds: 0,
  memoryGiBSeconds: 0,
  reads: 0,
  writes: 0,
  deletes: 0,
  pubsubBytes: 0,
  workflowSteps: 0,
};

/** `system`'s `quantities` (the rest none), priced as `billedAs` says. */
function priced(
  system: string,
  quantities: Partial<Quantities>,
  billedAs: BilledAs,
  {prices}: PriceList,
): CostBreakdown {
  const all = {...none, ...quantities};
  const usd = Object.fromEntries(
    Object.entries(billedAs).map(([quantity, price]) => [
      quantity,
      all[quantity as keyof Quantities] * prices[price].usd,
    ]),
  );
  const totalUsd = Object.values(usd).reduce((sum, part) => sum + part, 0);
  return {system, quantities: all, usd, totalUsd};
}

/**
 * The rate of operations (per second) below which the always-on loop costs more per operation than `usd` per
 * 1,000: its instance's cost per 1,000 falls as the rate grows, its notifications' does not.
 */
export function loopBreakEvenRate(
  inputs: CostInputs,
  usd: number,
  list: PriceList,
): number {
  const at = (ratePerSecond: number) =>
    cloudRunLoopCost({...inputs, ratePerSecond}, list).totalUsd;
  const notifications = at(Infinity);
  return (at(1) - notifications) / (usd - notifications);
}

const THOUSAND = 1000;

/** One notification, published and delivered once. */
const pubsubBytes = (bytes: number) =>
  2 * Math.max(MIN_BILLED_BYTES, Math.ceil(bytes)) * THOUSAND;

/** opwatch's cost of 1,000 operations polled `pollsPerOperation` times each. */
export function opwatchCost(
  inputs: CostInputs,
  pollsPerOperation: number,
  list: PriceList,
): CostBreakdown {
  const {deployment, perPoll, perOperation, perRegistration} = inputs;
  const polls = pollsPerOperation * THOUSAND;
  const pollSeconds = THOUSAND * perOperation.instanceSeconds;
  const registrationSeconds = THOUSAND * perRegistration.seconds;
  const registrationCpu = deployment.registrationMemoryMiB * CPU_PER_MIB;
  return priced(
    'opwatch (Cloud Run functions, Firestore)',
    {
      invocations: THOUSAND * (perOperation.invocations + 1),
      cpuSeconds:
        pollSeconds * deployment.pollCpu +
        registrationSeconds * registrationCpu,
      memoryGiBSeconds:
        (pollSeconds * deployment.pollMemoryMiB +
          registrationSeconds * deployment.registrationMemoryMiB) /
        1024,
      reads: polls * perPoll.reads + THOUSAND * perRegistration.reads,
      writes: polls * perPoll.writes + THOUSAND * perRegistration.writes,
      deletes: THOUSAND,
      pubsubBytes: pubsubBytes(inputs.notificationBytes),
    },
    {
      invocations: 'functionRequest',
      cpuSeconds: 'functionCpuSecond',
      memoryGiBSeconds: 'functionMemoryGiBSecond',
      reads: 'firestoreRead',
      writes: 'firestoreWrite',
      deletes: 'firestoreDelete',
      pubsubBytes: 'pubsubByte',
    },
    list,
  );
}

/** Cloud Workflows' cost of 1,000 operations whose connectors poll `pollsPerOperation` times each. */
export function workflowsCost(
  inputs: CostInputs,
  pollsPerOperation: number,
  list: PriceList,
): CostBreakdown {
  return priced(
    'Cloud Workflows (connector polling)',
    {
      pubsubBytes: pubsubBytes(inputs.notificationBytes),
      workflowSteps: (pollsPerOperation + WORKFLOW_EXTRA_STEPS) * THOUSAND,
    },
    {workflowSteps: 'workflowsInternalStep', pubsubBytes: 'pubsubByte'},
    list,
  );
}

/**
 * A client loop on Cloud Run's cost of 1,000 operations: an instance of the poll function's size, always on, at
 * the steady state's rate (its polls' CPU fits in it many times over: stage "steady" measures opwatch's).
 */
export function cloudRunLoopCost(
  inputs: CostInputs,
  list: PriceList,
): CostBreakdown {
  const {deployment} = inputs;
  const seconds = THOUSAND / inputs.ratePerSecond;
  return priced(
    'client loop on Cloud Run (always on)',
    {
      cpuSeconds: seconds * deployment.pollCpu,
      memoryGiBSeconds: (seconds * deployment.pollMemoryMiB) / 1024,
      pubsubBytes: pubsubBytes(inputs.notificationBytes),
    },
    {
      cpuSeconds: 'alwaysOnCpuSecond',
      memoryGiBSeconds: 'alwaysOnMemoryGiBSecond',
      pubsubBytes: 'pubsubByte',
    },
    list,
  );
}
