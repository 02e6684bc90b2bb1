/**
 * What the fault suites share: registering many operations, a Cloud Scheduler stand-in that ticks the poll
 * process back to back, a subscriber that counts every message, the accounting of lost and duplicated
 * notifications, and the one `FIGURES` line each suite prints.
 */
import type {Firestore} from '@google-cloud/firestore';
import {v1, type Subscription} from '@google-cloud/pubsub';
import {TEST_PROJECT} from '../support/emulator-env';
import type {Behavior} from '../support/fake-operations-server';
import {
  functionEnv,
  type Answer,
  type SpawnedFunction,
} from '../support/poll-process';
import {FAKED_SERVICES, type TestStack} from '../support/stack';
import {PROFILE} from './profile';

export const sleep = (ms: number) =>
  new Promise<void>(resolve => setTimeout(resolve, ms));

/**
 * Prints a suite's figures as one line, `FIGURES suite: {json}` with the profile they were measured in, which
 * docs/reliability.md quotes.
 */
export function printFigures(suite: string, figures: object): void {
  process.stdout.write(
    `\nFIGURES ${suite}: ${JSON.stringify({profile: PROFILE, ...figures})}\n`,
  );
}

/** A seedable PRNG (mulberry32), so a suite's random schedule is the same from run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The environment of a function process working on `stack`'s collection, metadata server and fake API;
 * `hosts` reroutes its emulator traffic (through a proxy that a suite can cut).
 */
export function stackEnv(
  stack: Pick<TestStack, 'collection' | 'metadata' | 'operationsApi'>,
  extra: Record<string, string>,
  hosts: {firestoreHost?: string; pubsubHost?: string} = {},
): Record<string, string> {
  return functionEnv(
    {
      projectId: TEST_PROJECT,
      firestoreHost:
        hosts.firestoreHost ?? process.env.FIRESTORE_EMULATOR_HOST!,
      pubsubHost: hosts.pubsubHost ?? process.env.PUBSUB_EMULATOR_HOST!,
      collection: stack.collection,
      metadataHost: stack.metadata.host,
      endpointOverrides: Object.fromEntries(
        FAKED_SERVICES.map(host => [host, stack.operationsApi.baseUrl]),
      ),
    },
    extra,
  );
}

/** Percentiles of `values` (nearest rank), rounded. */
export function percentiles(
  values: readonly number[],
  ranks: readonly number[] = [50, 90, 99, 100],
): Record<string, number> {
  const sorted = [...values].sort((a, b) => a - b);
  return Object.fromEntries(
    ranks.map(rank => [
      `p${rank}`,
      sorted.length === 0
        ? 0
        : Math.round(
            sorted[
              Math.min(
                sorted.length - 1,
                Math.max(0, Math.ceil((rank / 100) * sorted.length) - 1),
              )
            ],
          ),
    ]),
  );
}

/** One operation registered for a suite. */
export interface Watched {
  id: string;
  name: string;
  /** When the operation was defined on the fake API, just before it was registered (epoch ms). */
  definedAt: number;
  /** When the fake API starts answering `done` (epoch ms); Infinity for never. */
  doneAt: number;
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({length: limit}, worker));
  return results;
}

/**
 * Defines `count` operations on the fake API and registers each through the registration function.
 * @param behaviour what operation `i` does; its `afterMs`, if any, sets {@link Watched.doneAt}.
 * @param options.spreadMs registers them evenly over this long, as callers would, instead of all at once.
 */
export async function registerMany(
  stack: Pick<TestStack, 'operationsApi' | 'register'>,
  count: number,
  behaviour: (index: number) => Behavior,
  options: {prefix?: string; spreadMs?: number} = {},
): Promise<Watched[]> {
  const run = Date.now().toString(36);
  const prefix = options.prefix ?? 'op';
  const began = Date.now();
  return inParallel(
    Array.from({length: count}, (_, i) => i),
    16,
    async index => {
      if (options.spreadMs)
        await sleep(began + (index * options.spreadMs) / count - Date.now());
      const name = `projects/p/databases/(default)/operations/${prefix}-${run}-${index}`;
      const behavior = behaviour(index);
      stack.operationsApi.define(name, behavior);
      const definedAt = Date.now();
      const response = await stack.register({
        operation: `https://firestore.googleapis.com/v1/${name}`,
      });
      if (response.status !== 201) {
        throw new Error(
          `registering ${name}: ${response.status} ${JSON.stringify(response.body)}`,
        );
      }
      const afterMs = (behavior as {afterMs?: number}).afterMs;
      return {
        id: response.body.id as string,
        name,
        definedAt,
        doneAt: afterMs === undefined ? Infinity : definedAt + afterMs,
      };
    },
  );
}

/** A received notification, as the accounting needs it. */
export interface Received {
  registrationId: string;
  outcome: string;
  messageId: string;
  /** When Pub/Sub accepted the message (its publishTime), epoch ms. */
  publishedAt: number;
  at: number;
  /** The message's data as text, when the collector keeps it. */
  data?: string;
}

/**
 * A subscriber that pulls and acknowledges everything on a subscription until stopped, and rides out an
 * unreachable Pub/Sub (it keeps trying). Synchronous pull, like emulator-env's pullMessages, but one client
 * for the whole run.
 */
export class Collector {
  readonly received: Received[];
  /** Pull errors seen (Pub/Sub down), for the figures. */
  errors = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private client: v1.SubscriberClient | undefined;

  constructor(
    private readonly subscriptionName: string,
    private readonly options: {
      keepData?: boolean;
      /** Adds to this list (another collector's, say, before a restart) instead of a new one. */
      received?: Received[];
    } = {},
  ) {
    this.received = options.received ?? [];
  }

  /** Starts pulling with the client configuration of `subscription`'s PubSub. */
  async start(subscription: Subscription): Promise<this> {
    // The config carries the emulator's address and insecure credentials (see emulator-env.ts).
    const config = await subscription.pubsub.getClientConfig();
    this.client = new v1.SubscriberClient({...config});
    this.loop = this.run();
    return this;
  }

  /**
   * Registration id to the number of distinct messages received for it. A redelivery (same message id, e.g.
   * after a lost acknowledgement) is Pub/Sub's repeat, not opwatch's, and is not counted twice.
   */
  counts(): Map<string, number> {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (const {registrationId, messageId, publishedAt} of this.received) {
      // A restarted emulator numbers its messages from 1 again: the publish time tells them apart.
      const key = `${messageId}@${publishedAt}`;
      if (seen.has(key)) continue;
      seen.add(key);
      counts.set(registrationId, (counts.get(registrationId) ?? 0) + 1);
    }
    return counts;
  }

  /** Messages received more than once (same message id): Pub/Sub redeliveries. */
  redeliveries(): number {
    const keys = this.received.map(r => `${r.messageId}@${r.publishedAt}`);
    return keys.length - new Set(keys).size;
  }

  /** Resolves once every id in `ids` has a message, or after `timeoutMs`; true when all arrived. */
  async waitFor(ids: Iterable<string>, timeoutMs: number): Promise<boolean> {
    const wanted = [...ids];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = this.counts();
      if (wanted.every(id => counts.has(id))) return true;
      if (Date.now() >= deadline) return false;
      await sleep(200);
    }
  }

  /** Pulls until nothing new arrives for `quietMs`: the stragglers (late duplicates) of a run. */
  async settle(quietMs = 2000): Promise<void> {
    let seen = this.received.length;
    let since = Date.now();
    while (Date.now() - since < quietMs) {
      await sleep(100);
      if (this.received.length !== seen) {
        seen = this.received.length;
        since = Date.now();
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.client?.close();
  }

  private async run(): Promise<void> {
    const client = this.client!;
    while (!this.stopped) {
      try {
        const [{receivedMessages}] = await client.pull(
          {subscription: this.subscriptionName, maxMessages: 1000},
          {timeout: 2000, retry: null},
        );
        if (!receivedMessages?.length) {
          await sleep(50);
          continue;
        }
        await client.acknowledge({
          subscription: this.subscriptionName,
          ackIds: receivedMessages.map(m => m.ackId ?? ''),
        });
        const at = Date.now();
        for (const {message} of receivedMessages) {
          this.received.push({
            registrationId: message?.attributes?.registrationId ?? '',
            outcome: message?.attributes?.outcome ?? '',
            messageId: message?.messageId ?? '',
            publishedAt:
              Number(message?.publishTime?.seconds ?? 0) * 1000 +
              Math.floor((message?.publishTime?.nanos ?? 0) / 1e6),
            at,
            ...(this.options.keepData && {
              data: Buffer.from(message?.data ?? []).toString('utf8'),
            }),
          });
        }
      } catch (error) {
        // DEADLINE_EXCEEDED is an empty pull; anything else is Pub/Sub being away. Either way: again.
        if ((error as {code?: number}).code !== 4) this.errors++;
        await sleep(200);
      }
    }
  }
}

/** Lost and duplicated notifications of a run. */
export interface Accounting {
  registrations: number;
  /** Distinct messages (redeliveries of one message count once). */
  messages: number;
  /** Pub/Sub redeliveries of a message already received. */
  redeliveries: number;
  /** Registrations with no message at all. */
  lost: string[];
  /** Messages beyond the first for a registration. */
  duplicates: number;
  /** Registrations that got more than one message. */
  duplicated: number;
  /** Messages for registrations this run did not make: must be none. */
  strangers: number;
}

/** Compares what was registered with what the subscriber received. */
export function account(
  watched: readonly Watched[],
  collector: Collector,
): Accounting {
  const counts = collector.counts();
  const ids = new Set(watched.map(w => w.id));
  let duplicates = 0;
  let duplicated = 0;
  for (const [id, n] of counts) {
    if (!ids.has(id)) continue;
    duplicates += n - 1;
    if (n > 1) duplicated++;
  }
  return {
    registrations: ids.size,
    messages: [...counts.values()].reduce((sum, n) => sum + n, 0),
    redeliveries: collector.redeliveries(),
    lost: [...ids].filter(id => !counts.has(id)),
    duplicates,
    duplicated,
    strangers: [...counts.keys()].filter(id => !ids.has(id)).length,
  };
}

/** How many registrations of `collection` are in each state. */
export async function stateCounts(
  firestore: Firestore,
  collection: string,
): Promise<Record<string, number>> {
  const snapshot = await firestore.collection(collection).select('state').get();
  const counts: Record<string, number> = {};
  for (const doc of snapshot.docs) {
    const state = doc.get('state') as string;
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return counts;
}

/** The ids of `collection`'s registrations in `state`. */
export async function idsInState(
  firestore: Firestore,
  collection: string,
  state: string,
): Promise<Set<string>> {
  const snapshot = await firestore
    .collection(collection)
    .where('state', '==', state)
    .select()
    .get();
  return new Set(snapshot.docs.map(doc => doc.id));
}

/** One tick as the driver saw it. */
export interface TickRecord extends Answer {
  startedAt: number;
  generation: number;
}

/**
 * Cloud Scheduler, impatient: calls the poll function again as soon as the previous call answered or died,
 * as a retrying Scheduler would with a one-second schedule. Waits while the process restarts.
 */
export class Driver {
  readonly ticks: TickRecord[] = [];
  private stopped = false;
  private paused = false;
  private loop: Promise<void> | undefined;
  private current: Promise<unknown> = Promise.resolve();
  private wake: (() => void) | undefined;

  constructor(
    private readonly poller: SpawnedFunction,
    private readonly options: {tickTimeoutMs?: number; gapMs?: number} = {},
  ) {}

  start(): this {
    this.loop = this.run();
    return this;
  }

  /** Stops ticking; resolves once the tick under way has answered (or died). */
  async pause(): Promise<void> {
    this.paused = true;
    await this.current;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.paused || !this.poller.listening) {
        await new Promise<void>(resolve => {
          this.wake = resolve;
          setTimeout(resolve, 50);
        });
        continue;
      }
      const startedAt = Date.now();
      const generation = this.poller.generations;
      const tick = this.poller.tick({timeoutMs: this.options.tickTimeoutMs});
      this.current = tick;
      const answer = await tick;
      this.ticks.push({...answer, startedAt, generation});
      // A refused connection (a restart under way) would otherwise spin.
      if (answer.status === 0) await sleep(50);
      else if (this.options.gapMs) await sleep(this.options.gapMs);
    }
  }
}

/** Counts and durations of a driver's ticks by how they ended, for the figures. */
export function tickSummary(ticks: readonly TickRecord[]) {
  const held = (t: TickRecord) =>
    (t.body as {leaseHeld?: boolean} | undefined)?.leaseHeld === true;
  const kinds = {
    ok: (t: TickRecord) => t.status === 200 && !held(t),
    leaseHeld: (t: TickRecord) => t.status === 200 && held(t),
    failed: (t: TickRecord) => t.status >= 500,
    died: (t: TickRecord) => t.status === 0,
  };
  const summary: Record<string, unknown> = {ticks: ticks.length};
  for (const [kind, predicate] of Object.entries(kinds)) {
    const mine = ticks.filter(predicate);
    summary[kind] = mine.length;
    if (mine.length > 0)
      summary[`${kind}Ms`] = percentiles(
        mine.map(t => t.durationMs),
        [50, 100],
      );
  }
  return summary;
}
