/**
 * `opwatch wait`: register an operation (or take an existing registration) and block until it ends.
 *
 * Two sources, whichever tells first: the notification, on a temporary subscription to the registration's topic
 * filtered to `attributes.registrationId`, and the registration's state, read with GET every few seconds. The
 * subscription makes the wait end within a second or so of the poller publishing; the status polling makes it work
 * without Pub/Sub rights, and closes every race:
 *
 * - The subscription only receives what is published after it exists. When the CLI can name the topic up front
 *   (`--topic`, or the default topic in a known project) it subscribes before registering, to the id the
 *   registration will have (a digest of the canonical URL and the topic, computed as the API does); otherwise, or
 *   when the id turns out different, it subscribes right after.
 * - The poller publishes before it stores the final state, so a notification missed before subscribing still shows
 *   up in the state a few seconds later. The first status read follows the subscription at once.
 * - A registration waited on by id that has already ended is reported without waiting. Registering an operation
 *   whose watch ended starts a new watch (the API answers 201), and that one is waited for.
 */
import type {PubSub} from '@google-cloud/pubsub';
import {ANONYMOUS, registrationId} from '../functions/core/model';
import {GENERIC_PRESET, presetFor} from '../functions/core/presets';
import {
  ApiError,
  UnreachableError,
  type OpwatchApi,
  type RegistrationView,
} from './api-client';
import {CliError, EXIT} from './exit-codes';
import {describeProgress, type ProgressReporter} from './progress';
import {
  DEFAULT_TOPIC_ID,
  createTemporarySubscription,
  listen,
  resolveTopic,
  topicProject,
  type ReceivedMessage,
  type TemporarySubscription,
} from './pubsub';

/** What to wait for: a registration to make, or one that exists. */
export type WaitTarget =
  {kind: 'register'; body: Record<string, unknown>} | {kind: 'id'; id: string};

/** How the wait ended. */
export interface WaitResult {
  outcome: string;
  /** The latest state read (still `pending` when the notification came first). */
  registration: RegistrationView;
  /** The notification's JSON, when it was the notification that told. */
  notification?: Record<string, unknown>;
  via: 'registration' | 'notification' | 'status';
}

/** What a wait works with. */
export interface WaitDependencies {
  api: OpwatchApi;
  progress: ProgressReporter;
  /** Makes the Pub/Sub client for a project; undefined to poll the status only. */
  pubsub?: (project: string | undefined) => PubSub;
  /** Where the subscription goes (default: the topic's project), and what a short topic id is in. */
  project?: string;
  pollIntervalMs: number;
  /** How long past the registration's deadline to go on without an outcome before giving up. */
  deadlineGraceMs: number;
  /** How long opwatch may stay unreachable during the wait before giving up. */
  unreachableLimitMs: number;
  signal?: AbortSignal;
}

const isFinal = (state: string) => state !== 'pending';

/** The id the API will give `body` registered to `topic` by `owner`: mirrors validation's canonical URL. */
export function predictRegistrationId(
  body: Record<string, unknown>,
  topic: string,
  owner: string,
): string | undefined {
  let url: string | undefined;
  if (typeof body.operation === 'string') {
    const match = /^https:\/\/([^/]+)\/(.+)$/i.exec(body.operation);
    if (match) url = `https://${match[1].toLowerCase()}/${match[2]}`;
  } else if (
    typeof body.service === 'string' &&
    typeof body.name === 'string'
  ) {
    const host = body.service.toLowerCase();
    const version =
      (body.version as string | undefined) ??
      (presetFor(host) ?? GENERIC_PRESET).defaultVersion;
    url = `https://${host}/${version}/${body.name}`;
  }
  return url && registrationId(url, topic, owner);
}

/** Waits for `target` to end; see the module comment. */
export async function waitFor(
  target: WaitTarget,
  deps: WaitDependencies,
): Promise<WaitResult> {
  const waiter = new Waiter(deps);
  try {
    return await waiter.run(target);
  } finally {
    await waiter.cleanUp();
  }
}

class Waiter {
  private temporary: TemporarySubscription | undefined;
  private subscribedTo: string | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private readonly clients = new Map<string | undefined, PubSub>();
  private pubsubUsable: boolean;
  private notification: Record<string, unknown> | undefined;
  private wake: () => void = () => {};

  constructor(private readonly deps: WaitDependencies) {
    this.pubsubUsable = deps.pubsub !== undefined;
  }

  async run(target: WaitTarget): Promise<WaitResult> {
    const {api, progress} = this.deps;
    if (target.kind === 'register') {
      const guess = this.guessTopic(target.body);
      // The owner is guessed too: right on a local stack (anonymous); against an authenticated deployment the
      // guess misses and the subscription is replaced once the registration answers, as for a wrong topic.
      const predicted =
        guess && predictRegistrationId(target.body, guess, ANONYMOUS);
      // A wrong guess costs a subscription, replaced below; it does not turn Pub/Sub off.
      if (guess && predicted) await this.subscribe(guess, predicted, false);
    }
    let registration =
      target.kind === 'register'
        ? (await api.register(target.body)).registration
        : await api.get(target.id);
    this.show(registration);
    if (isFinal(registration.state)) {
      return {outcome: registration.state, registration, via: 'registration'};
    }
    if (this.subscribedTo !== registration.id)
      await this.subscribe(registration.topic, registration.id, true);

    const deadline = Date.parse(registration.deadline);
    let unreachableSince: number | undefined;
    for (;;) {
      if (this.notification) {
        const outcome = String(this.notification.outcome);
        return {
          outcome,
          registration,
          notification: this.notification,
          via: 'notification',
        };
      }
      this.throwIfAborted();
      try {
        registration = await api.get(registration.id);
        unreachableSince = undefined;
        this.show(registration);
        if (isFinal(registration.state))
          return {outcome: registration.state, registration, via: 'status'};
      } catch (error) {
        if (!isPassing(error)) throw error;
        unreachableSince ??= Date.now();
        progress.update({
          note: `opwatch unreachable: ${(error as Error).message}`,
        });
        if (Date.now() - unreachableSince > this.deps.unreachableLimitMs)
          throw error;
      }
      if (Date.now() > deadline + this.deps.deadlineGraceMs) {
        throw new CliError(
          `the registration's deadline (${registration.deadline}) passed and opwatch reported no outcome: is the poller running?`,
          EXIT.expired,
        );
      }
      await this.sleep(this.deps.pollIntervalMs);
    }
  }

  async cleanUp(): Promise<void> {
    await this.stopListening?.().catch(() => undefined);
    await this.temporary?.delete();
    await Promise.all(
      [...this.clients.values()].map(client =>
        client.close().catch(() => undefined),
      ),
    );
  }

  /** The full topic a registration body will have, when it can be told before registering. */
  private guessTopic(body: Record<string, unknown>): string | undefined {
    const topic =
      typeof body.topic === 'string' ? body.topic : DEFAULT_TOPIC_ID;
    return resolveTopic(topic, this.deps.project);
  }

  private async subscribe(
    topic: string,
    id: string,
    final: boolean,
  ): Promise<void> {
    if (!this.pubsubUsable || !this.deps.pubsub) return;
    await this.stopListening?.().catch(() => undefined);
    await this.temporary?.delete();
    this.temporary = this.stopListening = this.subscribedTo = undefined;
    const project = this.deps.project ?? topicProject(topic);
    let client = this.clients.get(project);
    if (!client) {
      client = this.deps.pubsub(project);
      this.clients.set(project, client);
    }
    try {
      this.temporary = await createTemporarySubscription(
        client,
        topic,
        'opwatch-wait',
        `attributes.registrationId = "${id}"`,
      );
    } catch (error) {
      if (final) {
        this.pubsubUsable = false;
        this.deps.progress.log(
          `no subscription to ${topic} (${firstLine(error)}); polling the status instead`,
        );
      }
      return;
    }
    this.subscribedTo = id;
    this.stopListening = listen(
      this.temporary.subscription,
      message => this.receive(message, id),
      error => {
        this.deps.progress.log(
          `subscription error (${firstLine(error)}); polling the status instead`,
        );
        void this.stopListening?.().catch(() => undefined);
      },
    );
  }

  private receive(message: ReceivedMessage, id: string): void {
    const data = message.data as Record<string, unknown> | null;
    // The filter lets only this registration's messages through; the check guards against a filter-less emulator.
    if (message.attributes.registrationId !== id || typeof data !== 'object')
      return;
    this.notification ??= data ?? undefined;
    this.wake();
  }

  private show(registration: RegistrationView): void {
    this.deps.progress.update({
      registrationId: registration.id,
      state: registration.state,
      attempts: registration.attempts,
      percent: registration.progressPercent,
      estimatedDoneAt: registration.estimatedDoneAt,
      progress:
        registration.lastOperation &&
        describeProgress(registration.lastOperation),
      note:
        registration.lastError &&
        `last poll: ${registration.lastError.message}`,
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise(resolve => {
      const timer = setTimeout(done, ms);
      const signal = this.deps.signal;
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      this.wake = done;
      signal?.addEventListener('abort', done);
    });
  }

  private throwIfAborted(): void {
    if (this.deps.signal?.aborted)
      throw new CliError('interrupted', EXIT.interrupted);
  }
}

/** Errors worth riding out during a long wait: no answer, or opwatch answering 5xx. */
function isPassing(error: unknown): boolean {
  return (
    error instanceof UnreachableError ||
    (error instanceof ApiError && error.status >= 500)
  );
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}
