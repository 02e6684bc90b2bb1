/**
 * One tick's work under its lease: pages of due registrations, each polled, forecast, published and written,
 * until the budget is spent, nothing is due within it, or the lease could run out.
 */
import {setTimeout as delay} from 'node:timers/promises';
import type {QueryDocumentSnapshot, Timestamp} from '@google-cloud/firestore';
import pLimit from 'p-limit';
import {FAILED_PRECONDITION} from './due-registrations';
import {within} from './deadline';
import type {PollLease} from './lease';
import type {LeaseTimings} from './lease-timings';
import type {BucketRange} from './shards';
import {WakeTimes} from './wake-times';
import {audit} from '../audit';
import type {LogThrottle} from '../log';
import type {Outcome, PollError, Registration} from '../model';
import {buildNotification, type Notification} from '../notify/notification';
import {afterPublishFailure, type PollResult, type Transition} from './policy';
import {forecast, type Forecast} from '../forecast/forecast';
import {observedDuration} from '../forecast/durations';
import {operationKind} from '../forecast/kind';
import {lroSettingsFor} from '../google/presets';
import {refusals} from '../registration/allowlists';
import {readDocument} from '../registration/document';
import type {PollUpdate} from '../registration/store';
import type {PollerDependencies, TickCounts} from './poller';

/**
 * Registrations read per query: enough to keep every poll slot busy between two queries. The reads are one after
 * another, so a page query's fixed cost bounds a tick's polls/s: 300 per page held one instance near 930/s on the
 * emulator, 600 near 1,180/s at the same CPU per poll.
 */
export const PAGE_SIZE = 600;
/** Pub/Sub's limit on an attribute value, in bytes. */
const MAX_ATTRIBUTE_BYTES = 1024;
/** While nothing is due, how often to look for new registrations (which are due at once). */
const IDLE_RECHECK_MS = 1000;

const OUTCOME_COUNTER: Record<
  Outcome,
  | 'succeeded'
  | 'failed'
  | 'expired'
  | 'notFound'
  | 'pollErrors'
  | 'undeliverable'
> = {
  succeeded: 'succeeded',
  failed: 'failed',
  expired: 'expired',
  not_found: 'notFound',
  poll_error: 'pollErrors',
  undeliverable: 'undeliverable',
};

/** The state of one tick. */
export class TickRun {
  private readonly limit: pLimit.Limit;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Update times of this tick's writes, to skip a page read before the write landed. */
  private readonly written = new Map<string, Timestamp>();
  /** When the registrations this tick left pending fall due: the tick wakes for them, not a second later. */
  private readonly wakeTimes = new WakeTimes();
  private stopReason: string | undefined;
  private fatal: Error | undefined;

  constructor(
    private readonly deps: PollerDependencies,
    private readonly range: BucketRange,
    private readonly timings: LeaseTimings,
    private readonly lease: PollLease,
    private readonly counts: TickCounts,
    private readonly deadline: number,
    private readonly now: () => number,
    private readonly random: () => number,
    private readonly throttle: LogThrottle,
  ) {
    this.limit = pLimit(deps.concurrency);
  }

  stop(reason: string): void {
    this.stopReason ??= reason;
  }

  /**
   * True, and the tick stops, once the lease could run out before a poll's last steps (its publish, then its
   * write) are done: a tick whose renewals are late must not start a publish that could still be under way when
   * the next holder reads the same registrations.
   */
  private fenced(): boolean {
    const margin = this.timings.fenceMarginMs;
    if (this.now() < this.lease.validUntil - margin) return false;
    this.stop('the lease is about to run out: renewals are late');
    return true;
  }

  /** @returns whether the tick ended for want of due work, before its deadline. */
  async execute(): Promise<boolean> {
    let idle = false;
    let cursor: QueryDocumentSnapshot | undefined;
    while (this.stopReason === undefined && this.now() < this.deadline) {
      if (this.inFlight.size >= this.deps.concurrency + PAGE_SIZE) {
        await Promise.race(this.inFlight.values());
        continue;
      }
      const read = await this.store(
        this.deps.due.page(this.range, this.now(), PAGE_SIZE, cursor),
        'reading due registrations',
      );
      if (!read) break;
      const {docs: page, readTime} = read;
      this.forgetWritesBefore(readTime);
      for (const snapshot of page) this.start(snapshot);
      if (page.length === PAGE_SIZE) {
        cursor = page[page.length - 1];
        continue;
      }
      cursor = undefined;
      const recheckAt =
        this.now() + (this.deps.idleRecheckMs ?? IDLE_RECHECK_MS);
      // The next sweep starts over, and would read again every registration still in flight (each is due until
      // its write lands): with a slow API that is a read per in-flight poll per sweep. Let them finish first.
      await Promise.all(this.inFlight.values());
      const known = this.wakeTimes.next(this.now()) ?? Infinity;
      // Nothing of its own due within the budget: a tick with nothing due at all ends, and spares the instance.
      if (known >= this.deadline) {
        const more = await this.store(
          this.deps.due.anyDueBefore(this.range, this.deadline),
          'looking for registrations due within the budget',
        );
        idle = more === false;
        if (!more) break;
      }
      await this.sleep(Math.min(recheckAt, known, this.deadline) - this.now());
    }
    // Polls under way finish (each write has its deadline) before the tick answers, even a failing one.
    await Promise.all(this.inFlight.values());
    await this.store(this.deps.due.flush(), 'writing poll results');
    if (this.stopReason)
      this.deps.log.warn(`tick stopped early: ${this.stopReason}`);
    if (this.fatal) throw this.fatal;
    return idle;
  }

  /** A Firestore call within its deadline; undefined, and the tick fails, when it fails or comes too late. */
  private async store<T>(
    work: Promise<T>,
    what: string,
  ): Promise<T | undefined> {
    try {
      return await within(work, this.deps.leaseMs, what);
    } catch (error) {
      this.fatal ??= error as Error;
      this.stop(`Firestore failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Writes older than a page's read time show in that page and every later one: no need to remember them. */
  private forgetWritesBefore(readTime: Timestamp): void {
    // Timestamps compare by their valueOf() strings, to the nanosecond: two writes a millisecond apart are common.
    for (const [id, writeTime] of this.written) {
      if (writeTime.valueOf() <= readTime.valueOf()) this.written.delete(id);
    }
  }

  private start(snapshot: QueryDocumentSnapshot): void {
    const id = snapshot.id;
    if (this.inFlight.has(id)) return;
    // A page read before this tick's own write landed shows the registration as it was: skip it.
    const written = this.written.get(id);
    if (written && written.valueOf() > snapshot.updateTime.valueOf()) return;
    const work = this.limit(() => this.pollOne(snapshot))
      .catch((error: Error) => {
        // A bug, not bad data: the registration stays as it was for the next tick, the rest of the tick goes on.
        this.deps.log.error('poll failed', {
          registrationId: id,
          error: error.message,
        });
      })
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, work);
  }

  /** Whether a poll may start now: the tick goes on, within its budget and its lease. */
  private mayStart(): boolean {
    // A poll queued within the budget but reached after it is left for the next tick: with Pub/Sub slow or away,
    // each started poll can take a publish timeout, and a tick that started them all ran for minutes.
    return (
      this.stopReason === undefined &&
      this.now() < this.deadline &&
      !this.fenced()
    );
  }

  private async pollOne(snapshot: QueryDocumentSnapshot): Promise<void> {
    // The publish and the write stay inside the POLL_CONCURRENCY slot: released after the request, they pile up
    // unthrottled, and a crash then catches more of them between Pub/Sub's ack and the write (duplicates in the
    // crash suite went from 0.8 % to 2.5 %, over its 1 % bound).
    if (!this.mayStart()) return;
    const read = readDocument(snapshot);
    if (!read.ok) return this.endCorrupt(snapshot, read.problem);
    const registration = read.registration;
    const refused = refusals(registration, this.deps.allowlists);
    const result: PollResult =
      refused.length > 0
        ? {
            kind: 'rejected',
            error: {
              kind: 'forbidden',
              message: refused.map(refusal => refusal.message).join('; '),
            },
          }
        : await this.deps.client.get(registration);
    const now = this.now();
    this.counts.polled++;
    if (result.kind === 'transient') this.counts.retried++;

    const forecast = await this.forecast(registration, result, now);
    let transition = forecast.transition;
    if (transition.outcome) {
      // Left pending and due, the registration is the next lease holder's to finish.
      if (this.fenced()) return;
      transition = await this.publish(registration, transition, now);
    }
    const saved = await this.save(snapshot, {...forecast, transition}, now);
    if (saved && transition.outcome === 'succeeded')
      this.learn(registration, transition, now);
  }

  /** The policy's decision with the next poll placed by what is known of the operation and its kind. */
  private async forecast(
    registration: Registration,
    result: PollResult,
    now: number,
  ): Promise<Forecast> {
    const kind =
      result.kind === 'operation'
        ? operationKind(registration.operation.service, result.operation)
        : undefined;
    const knowledge = kind && {
      durations: await this.deps.kinds?.model(kind),
      prior: lroSettingsFor(registration.operation.service, kind.verb),
    };
    return forecast(registration, result, now, this.random, knowledge);
  }

  /** Adds a succeeded operation's duration to its kind, once its final write landed; the poller writes it. */
  private learn(
    registration: Registration,
    transition: Transition,
    now: number,
  ): void {
    const operation = transition.lastOperation;
    const kind = operationKind(registration.operation.service, operation);
    const duration =
      operation && observedDuration(registration, operation, now);
    if (!this.deps.kinds || !kind || duration === undefined) return;
    this.deps.kinds.learn(kind, duration);
  }

  private async publish(
    registration: Registration,
    transition: Transition,
    now: number,
  ): Promise<Transition> {
    const outcome = transition.outcome!;
    const ended = outcome === 'succeeded' || outcome === 'failed';
    const pollError: PollError | undefined =
      outcome === 'expired'
        ? {
            kind: 'deadline',
            message: `not done by the deadline, ${new Date(registration.deadline).toISOString()}`,
          }
        : ended
          ? undefined
          : transition.lastError;
    const notification = buildNotification(registration, {
      outcome,
      finishedAt: now,
      attempts: transition.attempts,
      operation: transition.lastOperation,
      pollError,
    });
    const event = {
      action: 'notify' as const,
      principal: registration.owner,
      registrationId: registration.id,
      operationUrl: registration.operation.url,
      topic: registration.topic,
    };
    try {
      await this.publishWithin(registration.topic, notification);
      audit(this.deps.log, {...event, outcome});
      this.counts.published++;
      this.counts[OUTCOME_COUNTER[outcome]]++;
      return transition;
    } catch (error) {
      const message = `publishing to ${registration.topic} failed: ${(error as Error).message}`;
      audit(this.deps.log, {...event, outcome: 'publish_failed'});
      const failure: PollError = {kind: 'publish', message};
      if (now >= registration.deadline + this.deps.publishGraceMs) {
        return this.undeliverable(
          registration,
          transition,
          notification,
          failure,
        );
      }
      const held = this.throttle.pass(`publish ${registration.topic}`);
      if (held !== undefined) {
        this.deps.log.warn(message, {
          registrationId: registration.id,
          ...(held > 0 && {alsoFailedSinceLastLine: held}),
        });
      }
      return afterPublishFailure(
        registration,
        transition,
        failure,
        now,
        this.random,
      );
    }
  }

  /** A publish within the publish timeout, whatever the sink does: the fence counts on it. */
  private publishWithin(
    topic: string,
    notification: Notification,
  ): Promise<string> {
    return within(
      this.deps.sink.publish(topic, notification),
      this.timings.publishTimeoutMs,
      'publishing',
      'Pub/Sub',
    );
  }

  /**
   * Ends a watch whose notification Pub/Sub kept refusing past its deadline and the grace: the notification goes
   * to the dead-letter topic, if there is one, with the publish error attached.
   */
  private async undeliverable(
    registration: Registration,
    transition: Transition,
    notification: Notification,
    error: PollError,
  ): Promise<Transition> {
    const deadLetter = this.deps.deadLetterTopic;
    let deadLettered = false;
    if (deadLetter) {
      try {
        await this.publishWithin(deadLetter, {
          data: notification.data,
          attributes: {
            ...notification.attributes,
            topic: registration.topic,
            publishError: truncate(error.message, MAX_ATTRIBUTE_BYTES),
          },
        });
        deadLettered = true;
      } catch (deadLetterError) {
        this.deps.log.error('publishing to the dead-letter topic failed', {
          registrationId: registration.id,
          error: (deadLetterError as Error).message,
        });
      }
    }
    this.counts.undeliverable++;
    this.deps.log.error('watch ended undeliverable', {
      registrationId: registration.id,
      topic: registration.topic,
      outcome: transition.outcome,
      error: error.message,
      ...(deadLetter && {deadLetterTopic: deadLetter, deadLettered}),
    });
    return {
      ...transition,
      outcome: 'undeliverable',
      errorStreak: 0,
      lastError: error,
    };
  }

  /**
   * A stored document this version cannot read ends `poll_error` (kind `corrupt`) with no notification, since
   * its topic cannot be trusted; if even that write fails, it is skipped until a later tick.
   */
  private async endCorrupt(
    snapshot: QueryDocumentSnapshot,
    problem: string,
  ): Promise<void> {
    this.counts.corrupt++;
    const now = this.now();
    this.deps.log.error('corrupt registration document', {
      registrationId: snapshot.id,
      problem,
    });
    await this.write(snapshot, {
      state: 'poll_error',
      updatedAt: now,
      lastPolledAt: now,
      finishedAt: now,
      lastError: {kind: 'corrupt', message: problem},
    });
  }

  private save(
    snapshot: QueryDocumentSnapshot,
    {transition, progressPercent, estimatedDoneAt}: Forecast,
    now: number,
  ): Promise<boolean> {
    const state = transition.outcome ?? 'pending';
    const pending = state === 'pending';
    return this.write(snapshot, {
      state,
      attempts: transition.attempts,
      errorStreak: transition.errorStreak,
      nextPollAt: transition.nextPollAt,
      lastPolledAt: now,
      updatedAt: now,
      lastError: transition.lastError,
      ...(transition.lastOperation && {
        lastOperation: transition.lastOperation,
      }),
      // Cleared when the operation stops telling, or the watch ends.
      progressPercent: pending ? progressPercent : undefined,
      estimatedDoneAt: pending ? estimatedDoneAt : undefined,
      ...(!pending && {finishedAt: now}),
    });
  }

  /** Writes a poll's result within the write deadline, unless the document changed since it was read. */
  /** @returns whether the write landed. */
  private async write(
    snapshot: QueryDocumentSnapshot,
    update: PollUpdate,
  ): Promise<boolean> {
    try {
      const result = await within(
        this.deps.due.save(
          snapshot.ref,
          update,
          snapshot.updateTime as Timestamp,
        ),
        this.timings.writeDeadlineMs,
        'writing a poll result',
      );
      this.written.set(snapshot.id, result.writeTime);
      const {state, nextPollAt} = update;
      // Only within the budget: at most budget / slot entries, however many registrations the tick polls.
      if (
        state === 'pending' &&
        nextPollAt !== undefined &&
        nextPollAt < this.deadline
      )
        this.wakeTimes.add(nextPollAt);
      return true;
    } catch (error) {
      // A failed precondition means someone else changed the registration (a cancel, a newer tick): theirs stands.
      // Anything else means Firestore is unreachable: stop and let Cloud Scheduler retry the tick.
      if ((error as {code?: number}).code !== FAILED_PRECONDITION) {
        this.fatal ??= error as Error;
        this.stop(`Firestore write failed: ${(error as Error).message}`);
      }
      return false;
    }
  }

  private sleep(ms: number): Promise<unknown> {
    return (this.deps.sleep ?? delay)(Math.max(0, ms));
  }
}

/** `text` cut to at most `bytes` UTF-8 bytes. */
function truncate(text: string, bytes: number): string {
  const encoded = Buffer.from(text);
  if (encoded.byteLength <= bytes) return text;
  // A cut through a multi-byte character decodes to U+FFFD, which may be longer: leave room for it.
  return encoded.subarray(0, bytes - 3).toString('utf8');
}
