/**
 * The registrations of hostile-ticks.test.ts and the operations API that answers them: a hostile stand-in
 * (test/support/hostile-server.ts) answering each registration as its category says, and for each, how it must
 * end (read by the poller's own steps, hostile-pipeline.ts, or broken as hostile-documents.ts breaks it).
 *
 * Categories: `good` finishes a few seconds after it is registered; `shape` answers one hostile answer
 * (hostile-operations.ts) on every poll; `progress` reports hostile progress until it is done; `heavy` answers an
 * Operation of tiny values just under the answer cap, as many at once as the poller polls (what parsing expands
 * most); `endless` and `trickle` send bodies that never end; `corrupt` is a good operation whose stored document
 * is broken (hostile-documents.ts).
 */
import type {Firestore} from '@google-cloud/firestore';
import {readFileSync} from 'node:fs';
import type {OperationsClient} from '../../functions/google/operations-client';
import {HostileServer, type HostileReply} from '../support/hostile-server';
import type {TestStack} from '../support/stack';
import {inParallel} from './harness';
import {
  corruptProblem,
  describeCorruption,
  type Corruption,
} from './hostile-documents';
import {
  BUDGET,
  answerClient,
  freshRegistration,
  pollThrough,
} from './hostile-pipeline';

export type Category =
  'good' | 'shape' | 'progress' | 'heavy' | 'endless' | 'trickle' | 'corrupt';

/** How a watch is expected to end. */
export interface Expected {
  outcome: string;
  /** The poll error's message, for a `poll_error`. */
  reason?: string;
}

/** One registration of the run. */
export interface Watch {
  id: string;
  name: string;
  category: Category;
  registeredAt: number;
  deadline: number;
  /** When its operation is done, for those that finish. */
  doneAt?: number;
  expected?: Expected;
  /** What was broken in its stored document, and why the poller must end it as corrupt (if it must). */
  corruption?: string;
  corruptProblem?: string;
}

const API = 'https://firestore.googleapis.com/v1';

const running = (name: string) => JSON.stringify({name, done: false});
const finished = (name: string) =>
  JSON.stringify({
    name,
    done: true,
    response: {'@type': 'type.googleapis.com/google.protobuf.Empty'},
  });

/** A finished Operation whose response is `[{},{},…]` of about `bytes` in all. */
function heavyBody(name: string, bytes: number): string {
  const head = `{"name":${JSON.stringify(name)},"done":true,"response":{"items":[`;
  const tail = ']}}';
  const items = Math.floor((bytes - head.length - tail.length + 1) / 3);
  return `${head}${new Array(items).fill('{}').join(',')}${tail}`;
}

/** The peak resident memory of process `pid` (the kernel's high-water mark), in bytes. */
export function peakMemory(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

/** The run's registrations and the stand-in answering them. */
export class HostileRun {
  readonly watches: Watch[] = [];
  private readonly replies = new Map<string, (now: number) => HostileReply>();
  private serial = 0;
  private readonly runId = Date.now().toString(36);
  /** Reads answers as the poller does, to tell how a `shape` watch must end. */
  private readonly client: OperationsClient;

  private constructor(
    private readonly stack: TestStack,
    readonly server: HostileServer,
  ) {
    this.client = answerClient(server.baseUrl);
  }

  static async start(stack: TestStack): Promise<HostileRun> {
    let run: HostileRun | undefined = undefined;
    const server = await HostileServer.start((name, now) =>
      run!.reply(name, now),
    );
    run = new HostileRun(stack, server);
    return run;
  }

  private reply(name: string, now: number): HostileReply {
    const answer = this.replies.get(name);
    if (answer) return answer(now);
    return {kind: 'raw', status: 404, body: '{"error": {"code": 404}}'};
  }

  private nextName(category: Category): string {
    return `projects/p/databases/(default)/operations/${category}-${this.runId}-${++this.serial}`;
  }

  /** Registers an operation answered by `answer` (given the time and how often it was asked). */
  private async register(
    category: Category,
    answer: (name: string) => (now: number) => HostileReply,
    timeoutMs?: number,
  ): Promise<Watch> {
    const name = this.nextName(category);
    this.replies.set(name, answer(name));
    const registeredAt = Date.now();
    const response = await this.stack.register({
      operation: `${API}/${name}`,
      ...(timeoutMs !== undefined && {timeout: `${timeoutMs / 1000}s`}),
    });
    if (response.status !== 201)
      throw new Error(`registering ${name}: ${response.status}`);
    const watch: Watch = {
      id: response.body.id as string,
      name,
      category,
      registeredAt,
      deadline: Date.parse(response.body.deadline as string),
    };
    this.watches.push(watch);
    return watch;
  }

  /**
   * An operation done `afterMs` after it is registered, answering `before(name)` until then (given how often it
   * was asked), and a plain running answer by default.
   */
  async finishing(
    category: 'good' | 'corrupt' | 'progress',
    afterMs: number,
    timeoutMs?: number,
    before: (name: string) => (asked: number) => string = name => () =>
      running(name),
  ): Promise<Watch> {
    const doneAt = Date.now() + afterMs;
    const watch = await this.register(
      category,
      name => {
        const answer = before(name);
        return now => ({
          kind: 'raw',
          status: 200,
          body:
            now < doneAt
              ? answer(this.server.requests.get(name) ?? 0)
              : finished(name),
        });
      },
      timeoutMs,
    );
    watch.doneAt = doneAt;
    return watch;
  }

  /** An operation that answers `body(name)` on every poll, and how it must end, as the poller's own steps read it. */
  async shape(
    body: (name: string) => string,
    timeoutMs: number,
  ): Promise<Watch> {
    const watch = await this.register(
      'shape',
      name => {
        const text = body(name);
        return () => ({kind: 'raw', status: 200, body: text});
      },
      timeoutMs,
    );
    const {result, forecast} = await pollThrough(
      this.client,
      freshRegistration(watch.name, watch.registeredAt, timeoutMs),
      watch.registeredAt,
      undefined,
    );
    watch.expected =
      result.kind === 'operation'
        ? {outcome: forecast.transition.outcome ?? 'expired'}
        : {outcome: 'poll_error', reason: result.error.message};
    return watch;
  }

  /** `count` operations done at once, each answering just under the answer cap in tiny values. */
  async heavy(count: number, timeoutMs: number): Promise<Watch[]> {
    return inParallel(new Array(count).fill(0), 8, async () => {
      const watch = await this.register(
        'heavy',
        name => {
          const body = heavyBody(name, BUDGET.maxAnswerBytes - 1024);
          return () => ({kind: 'raw', status: 200, body});
        },
        timeoutMs,
      );
      watch.expected = {outcome: 'succeeded'};
      return watch;
    });
  }

  /** An operation whose answer never ends: `endless` as fast as it is read, `trickle` a byte every 200 ms. */
  async unending(kind: 'endless' | 'trickle', timeoutMs: number) {
    const watch = await this.register(
      kind,
      () => () =>
        kind === 'endless' ? {kind} : {kind: 'trickle', everyMs: 200},
      timeoutMs,
    );
    watch.expected =
      kind === 'endless'
        ? {
            outcome: 'poll_error',
            reason: `answer over ${BUDGET.maxAnswerBytes} bytes`,
          }
        : {outcome: 'expired'};
    return watch;
  }

  /** A good operation whose stored document is then broken by `corruption`. */
  async corrupt(
    firestore: Firestore,
    corruption: Corruption,
    timeoutMs: number,
  ): Promise<Watch> {
    const watch = await this.finishing('corrupt', 1000, timeoutMs);
    const ref = firestore.collection(this.stack.collection).doc(watch.id);
    await ref.update({[corruption.field]: corruption.value});
    watch.corruption = describeCorruption(corruption);
    watch.corruptProblem = corruptProblem(await ref.get());
    return watch;
  }

  of(category: Category): Watch[] {
    return this.watches.filter(watch => watch.category === category);
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}
