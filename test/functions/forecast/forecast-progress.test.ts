/**
 * `forecast()`'s first rules: an explicit pollPolicy wins; else an operation that reports its progress and start
 * time is polled about when the progress says it will be done.
 */
import {forecast} from '../../../functions/forecast/forecast';
import {
  AGE_SHARE,
  JUMP_AGE_SHARE,
  MIN_WAIT_MS,
  OVERDUE_SHARE,
  PROGRESS_MARGIN_MS,
  UNSURE_BASE_MS,
} from '../../../functions/forecast/constants';
import {decide} from '../../../functions/core/policy';
import type {Operation} from '../../../functions/core/model';
import {
  START,
  documents,
  history,
  noJitter,
  running,
  watch,
} from './forecast-support';

describe('rule 1: an explicit pollPolicy wins', () => {
  const pollPolicy = {
    initialDelayMs: 7000,
    multiplier: 1,
    maxDelayMs: 7000,
    jitter: 0,
  };

  it('keeps the policy backoff whatever the progress and history say, and still shows them', () => {
    const now = START + 100_000;
    const registration = watch({
      pollPolicy,
      lastOperation: {metadata: documents(100)},
      lastPolledAt: START + 10_000,
    });
    const result = running(documents(500));
    const out = forecast(registration, result, now, noJitter, {
      durations: history(600_000, 0.1),
    });
    expect(out.transition).toEqual(decide(registration, result, now, noJitter));
    expect(out.transition.nextPollAt).toBe(now + 7000);
    expect(out.progressPercent).toBe(50);
    expect(out.estimatedDoneAt).toBe(START + 200_000);
  });
});

describe('rule 2: progress and a start time', () => {
  it('steady progress: most of the way while under half done, then just after the finish, past the cap but not past its age', () => {
    const early = watch({
      lastOperation: {metadata: documents(100)},
      lastPolledAt: START + 100_000,
    });
    const out = forecast(
      early,
      running(documents(200)),
      START + 200_000,
      noJitter,
    );
    expect(out.estimatedDoneAt).toBe(START + 1_000_000);
    // 90 % of the 800 s left would be 720 s; the operation is 200 s old, so it waits that long at most.
    expect(out.transition.nextPollAt).toBe(
      START + 200_000 + Math.min(0.9 * 800_000, 200_000 * JUMP_AGE_SHARE),
    );
    expect(out.progressPercent).toBe(20);
    const late = watch({
      lastOperation: {metadata: documents(200)},
      lastPolledAt: START + 200_000,
    });
    const near = forecast(
      late,
      running(documents(600)),
      START + 600_000,
      noJitter,
    );
    expect(near.transition.nextPollAt).toBe(
      START + 1_000_000 + PROGRESS_MARGIN_MS,
    );
  });

  it('progress on a curve: polls halfway to the extrapolated finish, never further than the cap or a share of its age', () => {
    // 10 % in the first 100 s, then 40 % more in 10 s: the recent rate is far from the average.
    const registration = watch({
      lastOperation: {metadata: documents(100)},
      lastPolledAt: START + 100_000,
    });
    const now = START + 110_000;
    const out = forecast(registration, running(documents(500)), now, noJitter);
    expect(out.estimatedDoneAt).toBe(START + 220_000);
    expect(out.transition.nextPollAt).toBe(
      now + Math.min(55_000, UNSURE_BASE_MS + 110_000 * AGE_SHARE),
    );
    const late = watch({
      lastOperation: {metadata: documents(500)},
      lastPolledAt: START + 9_000,
    });
    // 90 % at 10 s, after 50 % at 9 s: finish extrapolated at ~11.1 s, not steady: halfway there, at least 1 s.
    const near = forecast(
      late,
      running(documents(900)),
      START + 10_000,
      noJitter,
    );
    expect(near.transition.nextPollAt - (START + 10_000)).toBeCloseTo(
      Math.max(MIN_WAIT_MS, (near.estimatedDoneAt! - START - 10_000) / 2),
    );
  });

  it('past the extrapolated finish and not done: short waits, a share of the time elapsed', () => {
    const registration = watch({
      lastOperation: {metadata: documents(1000)},
      lastPolledAt: START + 100_000,
    });
    const out = forecast(
      registration,
      running(documents(1000)),
      START + 200_000,
      noJitter,
    );
    expect(out.transition.nextPollAt).toBe(
      START + 200_000 + 200_000 * OVERDUE_SHARE,
    );
  });

  it('reads the progress of Spanner, Compute, Service Management and Vertex AI', () => {
    const at = (iso: number) => new Date(iso).toISOString();
    const cases: Operation[] = [
      {metadata: {progress: {progressPercent: 25, startTime: at(START)}}},
      {
        metadata: {
          progress: [
            {progressPercent: 50, startTime: at(START)},
            {progressPercent: 0},
          ],
        },
      },
      {progress: 25, startTime: at(START), status: 'RUNNING'},
      {metadata: {progressPercentage: 25, startTime: at(START)}},
      {
        metadata: {
          progressPercentage: 25,
          genericMetadata: {createTime: at(START)},
        },
      },
    ];
    for (const operation of cases) {
      const out = forecast(
        watch(),
        {kind: 'operation', operation: {done: false, ...operation}},
        START + 100_000,
        noJitter,
      );
      expect(out.progressPercent).toBe(25);
      expect(out.estimatedDoneAt).toBe(START + 400_000);
    }
  });

  it('without a start time in the metadata, counts from the registration', () => {
    const out = forecast(
      watch(),
      running({progressPercent: 50}),
      START + 30_000,
      noJitter,
    );
    expect(out.estimatedDoneAt).toBe(START + 60_000);
  });
});
