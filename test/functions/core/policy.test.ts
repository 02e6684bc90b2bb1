import fc from 'fast-check';
import {pollPolicyRequestSchema} from '../../../functions/core/schemas';
import {
  DEFAULT_POLICY,
  MAX_RETRY_AFTER_MS,
  MIN_POLL_INTERVAL_MS,
  MIN_PUBLISH_ATTEMPTS,
  MIN_PUBLISH_RETRY_MS,
  afterPublishFailure,
  backoffDelay,
  decide,
  readOperation,
  undeliverableAt,
  type PolicyInput,
  type PollResult,
} from '../../../functions/core/policy';

const NOW = 1_800_000_000_000;
const noJitter = () => 0;
const fullJitter = () => 1;

function pending(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    attempts: 0,
    errorStreak: 0,
    deadline: NOW + 3_600_000,
    style: 'longrunning',
    ...overrides,
  };
}

const running: PollResult = {
  kind: 'operation',
  operation: {name: 'operations/x', done: false, metadata: {p: 1}},
};
const notFound: PollResult = {
  kind: 'not_found',
  error: {kind: 'http', status: 404, message: 'HTTP 404'},
};
const forbidden: PollResult = {
  kind: 'rejected',
  error: {kind: 'http', status: 403, message: 'HTTP 403'},
};

describe('backoffDelay', () => {
  it('starts at 1 s and grows x1.25 up to 60 s by default', () => {
    const delays = [1, 2, 3, 4].map(n =>
      backoffDelay(DEFAULT_POLICY, n, noJitter),
    );
    expect(delays).toEqual([1000, 1250, 1562.5, 1953.125]);
    expect(backoffDelay(DEFAULT_POLICY, 100, noJitter)).toBe(60_000);
  });

  it('takes off up to the jitter share of the delay, never more', () => {
    expect(backoffDelay(DEFAULT_POLICY, 1, fullJitter)).toBe(800);
    const policy = {...DEFAULT_POLICY, jitter: 1};
    expect(backoffDelay(policy, 1, fullJitter)).toBe(0);
    expect(backoffDelay(policy, 1, () => 0.5)).toBe(500);
  });
});

describe('decide', () => {
  it('reschedules a running operation with backoff and keeps its latest metadata', () => {
    const transition = decide(pending({attempts: 2}), running, NOW, noJitter);
    expect(transition.outcome).toBeUndefined();
    expect(transition.nextPollAt).toBe(NOW + 1562.5);
    expect(transition.attempts).toBe(3);
    expect(transition.lastOperation).toEqual({
      name: 'operations/x',
      done: false,
      metadata: {p: 1},
    });
  });

  it('uses the registration policy when it has one', () => {
    const pollPolicy = {
      initialDelayMs: 5000,
      multiplier: 2,
      maxDelayMs: 7000,
      jitter: 0,
    };
    expect(
      decide(pending({pollPolicy}), running, NOW, noJitter).nextPollAt,
    ).toBe(NOW + 5000);
    expect(
      decide(pending({pollPolicy, attempts: 5}), running, NOW, noJitter)
        .nextPollAt,
    ).toBe(NOW + 7000);
  });

  it('never schedules past the deadline (but by the floor), and expires a poll at or after it', () => {
    const late = pending({attempts: 20, deadline: NOW + 5000});
    expect(decide(late, running, NOW, noJitter).nextPollAt).toBe(NOW + 5000);
    const near = pending({deadline: NOW + 100});
    expect(decide(near, running, NOW, noJitter).nextPollAt).toBe(
      NOW + MIN_POLL_INTERVAL_MS,
    );
    expect(decide(near, running, NOW + 100, noJitter).outcome).toBe('expired');
  });

  it.each([
    [{done: true, response: {'@type': 't'}}, 'succeeded'],
    [{done: true}, 'succeeded'],
    [{done: true, error: {code: 7, message: 'denied'}}, 'failed'],
  ])(
    'ends a done operation %j as %s, even past the deadline',
    (operation, outcome) => {
      const result: PollResult = {
        kind: 'operation',
        operation: {name: 'o', ...operation},
      };
      expect(decide(pending(), result, NOW, noJitter).outcome).toBe(outcome);
      expect(
        decide(pending({deadline: NOW - 1}), result, NOW, noJitter).outcome,
      ).toBe(outcome);
    },
  );

  it('never polls before Retry-After, and caps an absurd one', () => {
    const throttled: PollResult = {
      kind: 'transient',
      error: {kind: 'http', status: 429, message: 'HTTP 429'},
      retryAfterMs: 30_000,
    };
    const transition = decide(pending(), throttled, NOW, fullJitter);
    expect(transition.nextPollAt).toBe(NOW + 30_000);
    expect(transition.outcome).toBeUndefined();
    expect(transition.errorStreak).toBe(0);
    const absurd = {...throttled, retryAfterMs: 10 * 86_400_000};
    expect(
      decide(pending({deadline: NOW + 10 * 86_400_000}), absurd, NOW, noJitter)
        .nextPollAt,
    ).toBe(NOW + MAX_RETRY_AFTER_MS);
  });

  it('gives up on 404 after three consecutive polls, and on 403 likewise', () => {
    let state = pending();
    for (let poll = 1; poll <= 2; poll++) {
      const transition = decide(state, notFound, NOW, noJitter);
      expect(transition.outcome).toBeUndefined();
      state = {...state, ...transition};
    }
    expect(decide(state, notFound, NOW, noJitter).outcome).toBe('not_found');

    let rejected = pending();
    for (let poll = 1; poll <= 2; poll++)
      rejected = {...rejected, ...decide(rejected, forbidden, NOW, noJitter)};
    expect(decide(rejected, forbidden, NOW, noJitter).outcome).toBe(
      'poll_error',
    );
  });

  it('restarts the streak when the answer changes in between', () => {
    const after404s = pending({errorStreak: 2, lastError: notFound.error});
    expect(decide(after404s, forbidden, NOW, noJitter)).toMatchObject({
      errorStreak: 1,
    });
    const afterRunning = {
      ...after404s,
      ...decide(after404s, running, NOW, noJitter),
    };
    expect(afterRunning.errorStreak).toBe(0);
    expect(
      decide(afterRunning, notFound, NOW, noJitter).outcome,
    ).toBeUndefined();
  });
});

describe('afterPublishFailure', () => {
  it('keeps the registration pending and retries after the backoff', () => {
    const done: PollResult = {
      kind: 'operation',
      operation: {name: 'o', done: true, response: {}},
    };
    const transition = decide(pending(), done, NOW, noJitter);
    const retry = afterPublishFailure(
      pending(),
      transition,
      {kind: 'publish', message: 'down'},
      NOW,
      noJitter,
    );
    expect(retry.outcome).toBeUndefined();
    expect(retry.nextPollAt).toBe(NOW + 1000);
    expect(retry.lastError).toEqual({kind: 'publish', message: 'down'});
    // The refusal is counted from the first one on.
    expect(retry).toMatchObject({publishFailures: 1, publishFailingSince: NOW});
    const next = afterPublishFailure(
      pending({publishFailures: 1, publishFailingSince: NOW}),
      transition,
      {kind: 'publish', message: 'down'},
      NOW + 5000,
      noJitter,
    );
    expect(next).toMatchObject({publishFailures: 2, publishFailingSince: NOW});
  });
});

describe('undeliverableAt: the grace runs from the first refused publish', () => {
  const GRACE = 1000;
  const refused = (publishFailures: number, sinceAgo: number) =>
    pending({publishFailures, publishFailingSince: NOW - sinceAgo});

  it('never at the first refusal, even long past the deadline and a short grace', () => {
    expect(
      undeliverableAt(pending({deadline: NOW - 86_400_000}), NOW, GRACE),
    ).toBe(false);
  });

  it('takes at least three refusals over at least a minute, whatever the grace', () => {
    expect(MIN_PUBLISH_ATTEMPTS).toBe(3);
    expect(MIN_PUBLISH_RETRY_MS).toBe(60_000);
    expect(undeliverableAt(refused(1, 120_000), NOW, GRACE)).toBe(false);
    expect(undeliverableAt(refused(2, 59_999), NOW, GRACE)).toBe(false);
    expect(undeliverableAt(refused(2, 60_000), NOW, GRACE)).toBe(true);
  });

  it('with a longer grace, the grace from the first refusal', () => {
    const hour = 3_600_000;
    expect(undeliverableAt(refused(40, hour - 1), NOW, hour)).toBe(false);
    expect(undeliverableAt(refused(40, hour), NOW, hour)).toBe(true);
  });
});

describe('readOperation', () => {
  it('reads compute-style operations by their status', () => {
    expect(readOperation({status: 'RUNNING'}, 'status-done')).toEqual({
      done: false,
      failed: false,
    });
    expect(readOperation({status: 'DONE'}, 'status-done')).toEqual({
      done: true,
      failed: false,
    });
    expect(
      readOperation(
        {status: 'DONE', error: {errors: [{code: 'X'}]}} as never,
        'status-done',
      ),
    ).toEqual({
      done: true,
      failed: true,
    });
  });
});

describe('the floor between two polls', () => {
  /** A pollPolicy a request may name, as the request schema reads it: at its floors or anywhere above. */
  const requestPolicy = fc
    .record({
      initialDelay: fc.integer({min: 1000, max: 10_000}),
      multiplier: fc.double({min: 1, max: 10, noNaN: true}),
      maxDelay: fc.integer({min: 5000, max: 60_000}),
      jitter: fc.double({min: 0, max: 1, noNaN: true}),
    })
    .map(({initialDelay, multiplier, maxDelay, jitter}) =>
      pollPolicyRequestSchema.parse({
        initialDelay: `${initialDelay / 1000}s`,
        multiplier,
        maxDelay: `${Math.max(maxDelay, initialDelay) / 1000}s`,
        jitter,
      }),
    );
  const results = fc.constantFrom<PollResult>(running, notFound, {
    kind: 'transient',
    error: {kind: 'network', message: 'reset'},
  });

  it('holds after the jitter, for every policy a request may name and every draw', () => {
    fc.assert(
      fc.property(
        requestPolicy,
        results,
        fc.integer({min: 0, max: 50}),
        fc.double({min: 0, max: 1, maxExcluded: true, noNaN: true}),
        fc.integer({min: 1, max: 10_000}),
        (pollPolicy, result, attempts, draw, untilDeadline) => {
          const registration = pending({
            pollPolicy,
            attempts,
            deadline: NOW + untilDeadline,
          });
          const next = decide(registration, result, NOW, () => draw);
          if (!next.outcome)
            expect(next.nextPollAt - NOW).toBeGreaterThanOrEqual(
              MIN_POLL_INTERVAL_MS,
            );
          const retried = afterPublishFailure(
            registration,
            next,
            {kind: 'publish', message: 'refused'},
            NOW,
            () => draw,
          );
          expect(retried.nextPollAt - NOW).toBeGreaterThanOrEqual(
            MIN_POLL_INTERVAL_MS,
          );
        },
      ),
    );
  });

  it('holds for the policy that polled 36 times in 20 s: 1 s, x1, full jitter', () => {
    const pollPolicy = pollPolicyRequestSchema.parse({
      initialDelay: '1s',
      multiplier: 1,
      jitter: 1,
    });
    let now = NOW;
    let registration = pending({pollPolicy});
    let polls = 0;
    while (now < NOW + 20_000) {
      polls++;
      const next = decide(registration, running, now, () => 0.999999);
      registration = {...registration, attempts: next.attempts};
      now = next.nextPollAt;
    }
    expect(polls).toBeLessThanOrEqual(20);
  });
});
