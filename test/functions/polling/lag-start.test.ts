/**
 * Where a notification's lag starts: the end a done operation reports, never before its registration; else the
 * first time a poll found the watch ended, kept across refused publishes.
 */
import {lagStart} from '../../../functions/polling/outcome-publish';

const createdAt = Date.UTC(2026, 0, 1, 12);
const seenAt = createdAt + 600_000;
const done = (endTime: string) => ({
  done: true,
  metadata: {endTime},
  response: {},
});

describe('lagStart', () => {
  it('starts at the end time a done operation reports', () => {
    const end = createdAt + 300_000;
    expect(
      lagStart({createdAt}, done(new Date(end).toISOString()), seenAt),
    ).toBe(end);
  });

  it('counts an operation that ended before its registration from the registration', () => {
    expect(lagStart({createdAt}, done('2025-12-31T00:00:00Z'), seenAt)).toBe(
      createdAt,
    );
  });

  it('starts when the end was first seen without a believable end time, or for a running operation', () => {
    expect(lagStart({createdAt}, {done: true}, seenAt)).toBe(seenAt);
    // An end in the future of the poll that saw it is a clock that cannot be trusted.
    expect(
      lagStart(
        {createdAt},
        done(new Date(seenAt + 60_000).toISOString()),
        seenAt,
      ),
    ).toBe(seenAt);
    // Vertex AI's updateTime moves while the operation runs: not an end.
    expect(
      lagStart(
        {createdAt},
        {
          done: false,
          metadata: {genericMetadata: {updateTime: '2026-01-01T12:01:00Z'}},
        },
        seenAt,
      ),
    ).toBe(seenAt);
  });

  it('keeps the first sight of the end across refused publishes', () => {
    const first = seenAt - 120_000;
    expect(
      lagStart({createdAt, publishFailingSince: first}, {done: true}, seenAt),
    ).toBe(first);
  });
});
