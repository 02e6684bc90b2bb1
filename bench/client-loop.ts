/**
 * A peer in the real run: what a client library's `operation.promise()`, a Workflows connector or a hand-written
 * loop does, one loop per operation in this process, with its own state and nothing shared with opwatch. Each loop
 * polls the fake operations API over HTTP at once, then after each wait its backoff gives (the peer's `PollPolicy`
 * run by opwatch's own `decide()`, as in the simulation), and when the operation is done publishes a notification
 * to a topic of its own; its delay ends when Pub/Sub accepts that publish, as opwatch's does.
 */
import {PubSub} from '@google-cloud/pubsub';
import {decide, type PollResult} from '../functions/core/policy';
import type {Operation} from '../functions/core/model';
import {DEFAULT_TIMEOUT_MS} from '../functions/core/schemas';
import {PubSubPublisher} from '../functions/notify/publisher';
import type {CompressedClock} from './clock';
import type {Contender} from './contenders';
import {PROJECT, uniqueName, type BenchEnv} from './env';
import {seeded} from './prng';

/** One loop's end: its polls, and when its notification was accepted (run clock). */
export interface LoopEnd {
  index: number;
  polls: number;
  acceptedAt: number;
}

/** The loops of one peer in a run. */
export interface ClientLoops {
  /** Starts watching job `index`, the operation `name` (already defined in the fake API), at the clock's now. */
  watch(index: number, name: string): void;
  /** The loops that have published so far. */
  readonly ends: LoopEnd[];
  stop(): Promise<void>;
}

/** The answer to one GET, as a poll result; any failure is transient, as client libraries retry it. */
async function get(baseUrl: string, name: string): Promise<PollResult> {
  try {
    const response = await fetch(`${baseUrl}/v1/${name}`);
    const body = (await response.json()) as Operation;
    if (response.ok) return {kind: 'operation', operation: body};
    return {
      kind: 'transient',
      error: {kind: 'http', status: response.status, message: 'HTTP error'},
    };
  } catch (error) {
    return {
      kind: 'transient',
      error: {kind: 'network', message: (error as Error).message},
    };
  }
}

/** `contender`'s loops (a peer with a `policy` schedule), on `clock`, publishing to a topic of their own. */
export async function startClientLoops(
  env: BenchEnv,
  contender: Contender,
  clock: CompressedClock,
  seed: number,
): Promise<ClientLoops> {
  if (!('policy' in contender.schedule))
    throw new Error(`${contender.key} has no backoff policy to loop with`);
  const pollPolicy = contender.schedule.policy;
  const [topic] = await env.pubsub.createTopic(
    uniqueName(`bench-${contender.key}`),
  );
  const client = new PubSub({projectId: PROJECT});
  const publisher = new PubSubPublisher(client);
  const random = seeded(seed);
  const ends: LoopEnd[] = [];

  const loop = async (index: number, name: string): Promise<void> => {
    const startedAt = clock.now();
    let state = {
      attempts: 0,
      errorStreak: 0,
      deadline: startedAt + DEFAULT_TIMEOUT_MS,
      pollPolicy,
      style: 'longrunning' as const,
    };
    for (;;) {
      const result = await get(env.fake.baseUrl, name);
      const transition = decide(state, result, clock.now(), random);
      state = {
        ...state,
        attempts: transition.attempts,
        errorStreak: transition.errorStreak,
      };
      if (transition.outcome) break;
      await clock.sleep(transition.nextPollAt - clock.now());
    }
    await publisher.publish(topic.name, {
      data: Buffer.from(JSON.stringify({name, outcome: 'done'})),
      attributes: {job: String(index)},
    });
    ends.push({index, polls: state.attempts, acceptedAt: clock.now()});
  };

  return {
    watch: (index, name) => void loop(index, name),
    ends,
    async stop() {
      // Closes the Pub/Sub client too.
      await publisher.close();
      await topic.delete();
    },
  };
}
