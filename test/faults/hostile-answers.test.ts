/**
 * Answers no well-behaved API gives (hostile-operations.ts: Operation-shaped JSON written as raw text, with times
 * from the year 1 to 9999, numbers like 1e400, deep nesting, huge strings and key counts, wrong types, `__proto__`
 * keys), each through a poll's pure steps as the poller takes them (hostile-pipeline.ts): the operations client
 * over HTTP, the forecast, the codec's update and its reading back, the notification builder. Polls chain, each
 * from the registration the last one stored. hostile-ticks.test.ts sends the same answers through real ticks.
 *
 * Invariants, whatever the answer: it is the registered operation or a poll error of kind `invalid` (never a throw);
 * the next poll and the estimate lie between the poll and the deadline, progress within 0–100 %; what the poll
 * stores is read back by the codec; the notification is built, reads back and fits Pub/Sub; the lag's start and
 * a learned duration lie within the watch; nothing lands on Object.prototype.
 */
import type {QueryDocumentSnapshot} from '@google-cloud/firestore';
import fc from 'fast-check';
import {readDocument} from '../../functions/core/document';
import {MIN_POLL_INTERVAL_MS} from '../../functions/core/policy';
import {MAX_TIMEOUT_MS} from '../../functions/core/schemas';
import type {OperationsClient} from '../../functions/google/operations-client';
import {MAX_MESSAGE_BYTES} from '../../functions/notify/notification';
import {hiddenProblem} from '../../functions/polling/hidden-sweep';
import {HostileServer} from '../support/hostile-server';
import {printFigures} from './harness';
import {corruptProblem, corruption, withField} from './hostile-documents';
import {hostileAnswer, toJsonText} from './hostile-operations';
import {
  answerClient,
  freshRegistration,
  pollThrough,
  snapshotOf,
  storedDocument,
  type Passage,
} from './hostile-pipeline';
import {byProfile} from './profile';

const SEED = 20260622;
const NAME = 'projects/p/databases/(default)/operations/hostile';

const figures: Record<string, unknown> = {};
afterAll(() => printFigures('hostile-answers', figures));

describe('a poll of a hostile answer, step by step', () => {
  let server: HostileServer;
  let body = '';
  let client: OperationsClient;

  beforeAll(async () => {
    server = await HostileServer.start(() => ({
      kind: 'raw',
      status: 200,
      body,
    }));
    client = answerClient(server.baseUrl);
  });
  afterAll(() => server?.stop());

  /** The invariants one poll's steps hold, whatever it was answered. */
  function expectSound(
    passage: Passage,
    now: number,
    {createdAt, deadline}: {createdAt: number; deadline: number},
  ) {
    const {result, forecast, readBack, notification, payload} = passage;
    if (result.kind !== 'operation') {
      expect(result).toMatchObject({
        kind: 'rejected',
        error: {kind: 'invalid'},
      });
    }
    const {transition, estimatedDoneAt, progressPercent} = forecast;
    if (!transition.outcome) {
      expect(transition.nextPollAt).toBeGreaterThanOrEqual(now);
      // Two polls are never closer than the floor, even right before the deadline (core/policy.ts).
      expect(transition.nextPollAt).toBeLessThanOrEqual(
        Math.max(deadline, now + MIN_POLL_INTERVAL_MS),
      );
    }
    if (estimatedDoneAt !== undefined) {
      expect(estimatedDoneAt).toBeGreaterThanOrEqual(now);
      expect(estimatedDoneAt).toBeLessThanOrEqual(deadline);
    }
    if (progressPercent !== undefined) {
      expect(progressPercent).toBeGreaterThanOrEqual(0);
      expect(progressPercent).toBeLessThanOrEqual(100);
    }
    expect(readBack).toMatchObject({
      ok: true,
      registration: {state: transition.outcome ?? 'pending'},
    });
    expect(notification.data.byteLength).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    for (const value of Object.values(notification.attributes))
      expect(Buffer.byteLength(value)).toBeLessThanOrEqual(1024);
    expect(payload.registrationId).toBe('f'.repeat(32));
    expect(passage.lagStart).toBeLessThanOrEqual(now);
    expect(passage.lagStart).toBeGreaterThanOrEqual(createdAt);
    if (passage.learned !== undefined) {
      expect(passage.learned).toBeGreaterThan(0);
      expect(passage.learned).toBeLessThanOrEqual(deadline - createdAt);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'done')).toBe(
      false,
    );
  }

  it('every step holds: a poll error or a stored, notifiable answer, and every time within the watch', async () => {
    const results: Record<string, number> = {};
    let polls = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileAnswer(NAME), {minLength: 1, maxLength: 3}),
        fc.constantFrom(60_000, 86_400_000, MAX_TIMEOUT_MS),
        fc.array(fc.double({min: 0, max: 1, noNaN: true}), {
          minLength: 3,
          maxLength: 3,
        }),
        fc.option(
          fc.record({
            count: fc.integer({min: 5, max: 10_000}),
            medianMs: fc.double({min: 1, max: MAX_TIMEOUT_MS, noNaN: true}),
            sigma: fc.double({min: 0, max: 5, noNaN: true}),
          }),
          {nil: undefined},
        ),
        async (answers, timeoutMs, shares, durations) => {
          const createdAt = Date.now();
          let registration = freshRegistration(NAME, createdAt, timeoutMs);
          let now = createdAt;
          for (const [i, answer] of answers.entries()) {
            now += Math.floor(shares[i] * (registration.deadline - now));
            body = toJsonText(answer);
            const passage = await pollThrough(
              client,
              registration,
              now,
              durations,
            );
            polls++;
            const kind =
              passage.result.kind === 'operation'
                ? (passage.forecast.transition.outcome ?? 'running')
                : passage.result.kind;
            results[kind] = (results[kind] ?? 0) + 1;
            expectSound(passage, now, registration);
            if (!passage.readBack.ok || passage.forecast.transition.outcome)
              break;
            registration = passage.readBack.registration;
          }
        },
      ),
      {seed: SEED, numRuns: byProfile({quick: 100, full: 1000})},
    );
    figures.pipeline = {polls, results};
  });
});

describe('a stored document broken in one field, read by the codec', () => {
  it('is read, or refused with the field at fault, never thrown; the sweep says whether a poll can see it', () => {
    const stored = storedDocument(
      freshRegistration(NAME, Date.now(), 86_400_000),
    );
    const read: Record<string, number> = {
      readable: 0,
      unreadable: 0,
      hidden: 0,
    };
    fc.assert(
      fc.property(corruption, broken => {
        const snapshot = snapshotOf(
          'f'.repeat(32),
          withField(stored, broken.field, broken.value),
        );
        const result = readDocument(snapshot);
        const hidden = hiddenProblem(snapshot as QueryDocumentSnapshot);
        if (result.ok) read.readable++;
        else {
          read.unreadable++;
          // The problem names the field at fault (its top-level name at least).
          expect(result.problem).toContain(broken.field.split('.')[0]);
        }
        if (hidden !== undefined) read.hidden++;
        expect(corruptProblem(snapshot)).toBe(
          result.ok ? hidden : result.problem,
        );
      }),
      {seed: SEED, numRuns: byProfile({quick: 500, full: 5000})},
    );
    figures.documents = read;
    expect(read.unreadable).toBeGreaterThan(0);
    expect(read.hidden).toBeGreaterThan(0);
  });
});
