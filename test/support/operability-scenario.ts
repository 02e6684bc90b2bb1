/**
 * A deployment that has seen everything an operator watches for, on the emulators: the `operations` and `poll`
 * functions in processes of their own, as deployed, watch operations that end every way (succeeded, failed,
 * poll_error, undeliverable, still pending), refuse registrations for three reasons, and leave one pending
 * registration overdue; a second poll process, whose Firestore is unreachable, fails three ticks.
 * test/system/operability.test.ts reads what came of it: notifications, `GET /stats`, and the log lines.
 */
import {freePort} from '../../scripts/lib/ports';
import {TEST_PROJECT, uniqueName, type PulledMessage} from './emulator-env';
import {SpawnedFunction, functionEnv} from './poll-process';
import {stackAddresses, startStack, type TestStack} from './stack';

const API = 'https://firestore.googleapis.com/v1';
/** The trace of the request that registers the `succeeded` operation. */
export const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

/** How the fake API makes each operation end. */
const BEHAVIORS = {
  succeeded: {kind: 'finish', afterMs: 0},
  succeeded2: {kind: 'finish', afterMs: 0},
  failed: {kind: 'fail', afterMs: 0, error: {code: 9, message: 'no'}},
  poll_error: {kind: 'status', status: 403},
  undeliverable: {kind: 'finish', afterMs: 0},
  pending: {kind: 'never'},
} as const;
export type Ending = keyof typeof BEHAVIORS;
const ENDINGS = Object.keys(BEHAVIORS) as Ending[];

/** A function process's JSON log lines. */
export function jsonLines(process: SpawnedFunction): Record<string, unknown>[] {
  return process.output
    .filter(line => line.stream === 'stdout' && line.text.startsWith('{'))
    .map(line => JSON.parse(line.text) as Record<string, unknown>);
}

/** The scenario's stack, processes and registrations. */
export class OperabilityScenario {
  /** Registration ids by how their watch ends. */
  readonly ids = new Map<Ending, string>();

  private constructor(
    readonly stack: TestStack,
    readonly operations: SpawnedFunction,
    readonly poll: SpawnedFunction,
    readonly brokenPoll: SpawnedFunction,
  ) {}

  /** Starts the stack and the three function processes. */
  static async start(): Promise<OperabilityScenario> {
    const stack = await startStack();
    const addresses = stackAddresses(stack);
    const pollEnv = {
      POLL_BUDGET_SECONDS: '4',
      POLL_LEASE_SECONDS: '8',
      POLL_REQUEST_TIMEOUT_SECONDS: '2',
      PUBLISH_GRACE_SECONDS: '1',
    };
    const deadFirestore = `127.0.0.1:${await freePort()}`;
    // First alone: it compiles the functions, which the others then reuse.
    const operations = await SpawnedFunction.start({
      target: 'operations',
      env: functionEnv(addresses, {
        DEFAULT_TOPIC: stack.topic,
        ADMIN_PRINCIPALS: 'anonymous',
      }),
    });
    const [poll, brokenPoll] = await Promise.all([
      SpawnedFunction.start({
        target: 'poll',
        env: functionEnv(addresses, pollEnv),
      }),
      SpawnedFunction.start({
        target: 'poll',
        env: functionEnv(
          {...addresses, firestoreHost: deadFirestore},
          {
            ...pollEnv,
            POLL_LEASE_SECONDS: '2',
            POLL_REQUEST_TIMEOUT_SECONDS: '1',
          },
        ),
      }),
    ]);
    return new OperabilityScenario(stack, operations, poll, brokenPoll);
  }

  /** POST /operations with a JSON body. */
  register(body: object, headers: Record<string, string> = {}) {
    return this.operations.request({
      method: 'POST',
      path: '/operations',
      headers: {'content-type': 'application/json', ...headers},
      body: JSON.stringify(body),
    });
  }

  /** Registers one operation per ending; the `succeeded` one with a trace. */
  async registerEach(): Promise<void> {
    for (const ending of ENDINGS) {
      const name = `projects/${TEST_PROJECT}/databases/(default)/operations/${ending}-${Date.now()}`;
      this.stack.operationsApi.define(name, BEHAVIORS[ending]);
      const answer = await this.register(
        {
          operation: `${API}/${name}`,
          // A topic that does not exist: Pub/Sub refuses until the watch is undeliverable.
          ...(ending === 'undeliverable' && {topic: uniqueName('deleted')}),
        },
        ending === 'succeeded'
          ? {traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`}
          : {},
      );
      if (answer.status !== 201)
        throw new Error(`registering ${ending}: ${JSON.stringify(answer)}`);
      this.ids.set(ending, (answer.body as {id: string}).id);
    }
    // Undeliverable takes three refusals over at least a minute (core/policy.ts): two are behind it already.
    await this.document('undeliverable').update({
      publishFailures: 2,
      publishFailingSince: new Date(Date.now() - 61_000),
    });
  }

  /** Three refused registrations: a topic outside ALLOWED_TOPICS, a body that is no registration, one not JSON. */
  async refuseThree(): Promise<number[]> {
    const forbidden = await this.register({
      operation: `${API}/projects/${TEST_PROJECT}/databases/(default)/operations/forbidden-1`,
      topic: 'projects/elsewhere-project/topics/notifications',
    });
    const invalid = await this.register({});
    const text = await this.operations.request({
      method: 'POST',
      path: '/operations',
      headers: {'content-type': 'text/plain'},
      body: 'x',
    });
    return [forbidden.status, invalid.status, text.status];
  }

  private document(ending: Ending) {
    return this.stack.firestore
      .collection(this.stack.collection)
      .doc(this.ids.get(ending)!);
  }

  /** Ticks until every watch but the pending one has ended; resolves with their states. */
  async tickUntilEnded(): Promise<unknown[]> {
    const states = () =>
      Promise.all(
        ENDINGS.filter(e => e !== 'pending').map(async ending =>
          (await this.document(ending).get()).get('state'),
        ),
      );
    for (let tick = 0; tick < 8 && (await states()).includes('pending'); tick++)
      await this.poll.tick({timeoutMs: 60_000});
    return states();
  }

  /** As a shard whose ticks stopped leaves it: the pending registration due for two minutes. */
  async makeOverdue(): Promise<void> {
    await this.document('pending').update({
      nextPollAt: new Date(Date.now() - 120_000),
    });
  }

  /** Three ticks of the poll process that cannot reach Firestore, at once; resolves with their statuses. */
  async failThreeTicks(): Promise<number[]> {
    const answers = await Promise.all(
      [1, 2, 3].map(() => this.brokenPoll.tick({timeoutMs: 60_000})),
    );
    return answers.map(answer => answer.status);
  }

  /** The notifications on the default topic. */
  pull(count: number): Promise<PulledMessage[]> {
    return this.stack.pull(count, 20_000);
  }

  async stop(): Promise<void> {
    await Promise.all([
      this.operations.stop(),
      this.poll.stop(),
      this.brokenPoll.stop(),
    ]);
    await this.stack.stop();
  }
}
