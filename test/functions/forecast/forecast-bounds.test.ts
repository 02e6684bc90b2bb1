/**
 * Whatever an answer says, the instants the forecast derives from it stay within the watch's window (not before
 * the poll, not after the deadline) and can be stored: the answers that once stalled a shard, because the
 * estimate they made lay past the year 9999 and Firestore refused the write.
 */
import {MAX_STORED_TIME, toDocument} from '../../../functions/core/document';
import {forecast, type Forecast} from '../../../functions/forecast/forecast';
import {START, history, noJitter, running, watch} from './forecast-support';

const HOUR = 3_600_000;
const registration = watch({deadline: START + 86_400_000});

function expectWithinWindow(out: Forecast, now: number): void {
  const {nextPollAt} = out.transition;
  expect(nextPollAt).toBeGreaterThanOrEqual(now);
  expect(nextPollAt).toBeLessThanOrEqual(registration.deadline);
  if (out.estimatedDoneAt !== undefined) {
    expect(out.estimatedDoneAt).toBeGreaterThanOrEqual(now);
    expect(out.estimatedDoneAt).toBeLessThanOrEqual(registration.deadline);
  }
  // What the poller writes from it encodes: no time Firestore cannot hold.
  expect(() =>
    toDocument(
      {
        state: 'pending',
        updatedAt: now,
        nextPollAt,
        estimatedDoneAt: out.estimatedDoneAt,
        progressPercent: out.progressPercent,
      },
      86_400_000,
    ),
  ).not.toThrow();
}

describe('the forecast stays within the watch', () => {
  it.each([
    [
      '10 % done since the year 1',
      {progressPercent: 10, startTime: '0001-01-01T00:00:00Z'},
    ],
    [
      '1e-9 % done an hour in',
      {progressPercent: 1e-9, startTime: new Date(START).toISOString()},
    ],
    [
      '1e-300 % done, started in the year 9999',
      {progressPercent: 1e-300, startTime: '9999-12-31T23:59:59Z'},
    ],
    [
      'progress as a huge string',
      {progressPercent: '1e-320', startTime: '1970-01-01T00:00:00Z'},
    ],
  ])('%s', (_what, metadata) => {
    const now = START + HOUR;
    const first = forecast(registration, running(metadata), now, noJitter);
    expectWithinWindow(first, now);
    // The same reading again a second later: the rate since the last poll is the other estimate made.
    const again = forecast(
      {...registration, lastPolledAt: now, lastOperation: {metadata}},
      running(metadata),
      now + 1000,
      noJitter,
    );
    expectWithinWindow(again, now + 1000);
  });

  it('a learned history too long to be a duration: estimated at the deadline, polled within it', () => {
    const now = START + HOUR;
    const out = forecast(registration, running({verb: 'x'}), now, noJitter, {
      durations: history(1e300, 0.1),
    });
    expect(out.estimatedDoneAt).toBe(registration.deadline);
    expectWithinWindow(out, now);
  });

  it('an estimate already past is shown as now, not as a time gone by', () => {
    const now = START + HOUR;
    const out = forecast(
      registration,
      running({
        progressPercent: 99,
        startTime: new Date(START - 100 * HOUR).toISOString(),
      }),
      now,
      noJitter,
    );
    expect(out.estimatedDoneAt).toBeGreaterThanOrEqual(now);
    expectWithinWindow(out, now);
  });

  it('the codec refuses a time Firestore cannot hold, by name', () => {
    expect(() =>
      toDocument({state: 'pending', updatedAt: MAX_STORED_TIME + 1}, 1),
    ).toThrow(/not storable: updatedAt/);
    expect(() => toDocument({state: 'pending', updatedAt: NaN}, 1)).toThrow(
      expect.objectContaining({name: 'UnstorableError'}),
    );
  });
});
