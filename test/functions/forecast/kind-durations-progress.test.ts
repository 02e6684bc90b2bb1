import {MIN_HISTORY} from '../../../functions/forecast/constants';
import {
  durationIncrement,
  durationModel,
  observedDuration,
  type DurationSums,
} from '../../../functions/forecast/durations';
import {learningKind, operationKind} from '../../../functions/forecast/kind';
import {kindDocumentId} from '../../../functions/forecast/kind-durations';
import {extrapolate, readProgress} from '../../../functions/forecast/progress';

const START = 1_800_000_000_000;

describe('operationKind', () => {
  it('is the service, the metadata @type and the verb', () => {
    const kind = operationKind('redis.googleapis.com', {
      metadata: {
        '@type': 'type.googleapis.com/google.cloud.redis.v1.OperationMetadata',
        verb: 'create',
      },
    });
    expect(kind).toEqual({
      service: 'redis.googleapis.com',
      type: 'google.cloud.redis.v1.OperationMetadata',
      verb: 'create',
      key: 'redis.googleapis.com google.cloud.redis.v1.OperationMetadata create',
    });
    expect(kindDocumentId('tenant team-a', kind!)).toMatch(/^[0-9a-f]{32}$/);
  });

  it("reads Compute's operationType, and tells verbs apart", () => {
    const insert = operationKind('compute.googleapis.com', {
      operationType: 'insert',
    });
    const del = operationKind('compute.googleapis.com', {
      operationType: 'delete',
    });
    expect(insert?.verb).toBe('insert');
    expect(kindDocumentId('tenant team-a', insert!)).not.toBe(
      kindDocumentId('tenant team-a', del!),
    );
    expect(kindDocumentId('tenant team-a', insert!)).not.toBe(
      kindDocumentId('tenant team-b', insert!),
    );
  });

  it('is unknown for an operation that says nothing of what it does', () => {
    expect(
      operationKind('x.googleapis.com', {name: 'operations/1', metadata: {}}),
    ).toBeUndefined();
    expect(operationKind('x.googleapis.com', undefined)).toBeUndefined();
  });
});

describe('learningKind', () => {
  it("is an operation's own kind when it has one, else one kind for its whole service", () => {
    const typed = {metadata: {'@type': 'type.googleapis.com/x.ExportMetadata'}};
    expect(learningKind('a.googleapis.com', typed)).toEqual(
      operationKind('a.googleapis.com', typed),
    );
    const opaque = learningKind('a.googleapis.com', {metadata: {}});
    expect(opaque.service).toBe('a.googleapis.com');
    expect(learningKind('a.googleapis.com', undefined).key).toBe(opaque.key);
    expect(learningKind('b.googleapis.com', {}).key).not.toBe(opaque.key);
    expect(opaque.key).not.toBe(learningKind('a.googleapis.com', typed).key);
  });
});

describe('learned durations', () => {
  const sumsOf = (durations: number[]): DurationSums =>
    durations.map(durationIncrement).reduce((a, b) => ({
      count: a.count + b.count,
      sumLog: a.sumLog + b.sumLog,
      sumLogSquares: a.sumLogSquares + b.sumLogSquares,
    }));

  it(`says nothing below ${MIN_HISTORY} finished operations`, () => {
    expect(durationModel(sumsOf([1000, 2000, 3000, 4000]))).toBeUndefined();
    expect(durationModel(undefined)).toBeUndefined();
  });

  it('fits a log-normal: the geometric mean and the spread of the logs', () => {
    const model = durationModel(sumsOf([1000, 4000, 1000, 4000, 2000, 2000]))!;
    expect(model.medianMs).toBeCloseTo(2000);
    expect(model.sigma).toBeCloseTo(Math.sqrt((4 * Math.log(2) ** 2) / 5));
  });

  it('keeps a floor on the spread, and ignores sums that make no sense', () => {
    expect(durationModel(sumsOf(Array(10).fill(5000)))!.sigma).toBe(0.05);
    expect(
      durationModel({count: 9, sumLog: NaN, sumLogSquares: 1}),
    ).toBeUndefined();
    // A median of e^800 ms overflows: no model rather than an infinite one.
    expect(
      durationModel({count: 9, sumLog: 9 * 800, sumLogSquares: 9 * 800 ** 2}),
    ).toBeUndefined();
  });

  it('measures a duration up to the reported end time, else the middle of the last two polls', () => {
    const watch = {
      createdAt: START,
      deadline: START + 600_000,
      lastPolledAt: START + 50_000,
    };
    const ended = {
      done: true,
      metadata: {endTime: new Date(START + 42_000).toISOString()},
    };
    expect(observedDuration(watch, ended, START + 60_000)).toBe(42_000);
    expect(observedDuration(watch, {done: true}, START + 60_000)).toBe(55_000);
    const bogus = {
      done: true,
      metadata: {endTime: new Date(START + 90_000).toISOString()},
    };
    expect(observedDuration(watch, bogus, START + 60_000)).toBe(55_000);
  });

  it('never learns a duration longer than the watch could last', () => {
    const watch = {createdAt: START, deadline: START + 60_000};
    const late = {done: true, metadata: {endTime: '9999-12-31T23:59:59Z'}};
    expect(observedDuration(watch, late, START + 3_600_000)).toBe(60_000);
    expect(observedDuration(watch, {done: true}, Number.MAX_SAFE_INTEGER)).toBe(
      60_000,
    );
  });
});

describe('progress', () => {
  it('reads Firestore documents, or bytes, and ignores nonsense', () => {
    expect(
      readProgress({
        metadata: {progressBytes: {completedWork: '5', estimatedWork: '20'}},
      })?.fraction,
    ).toBe(0.25);
    expect(
      readProgress({
        metadata: {progressDocuments: {completedWork: '5', estimatedWork: '0'}},
      }),
    ).toBeUndefined();
    expect(readProgress({metadata: {progressPercent: 140}})).toBeUndefined();
    for (const [completedWork, estimatedWork] of [
      ['1e400', '10'],
      ['5', '1e400'],
      ['-1', '10'],
      ['NaN', '10'],
      ['5', 'Infinity'],
    ])
      expect(
        readProgress({
          metadata: {progressDocuments: {completedWork, estimatedWork}},
        }),
      ).toBeUndefined();
    expect(
      readProgress({
        metadata: {
          progressDocuments: {completedWork: '12', estimatedWork: '10'},
        },
      })?.fraction,
    ).toBe(1);
    for (const progressPercent of [-0.5, 100.5, 'Infinity', '1e400', NaN])
      expect(readProgress({metadata: {progressPercent}})).toBeUndefined();
    expect(readProgress({metadata: {}})).toBeUndefined();
  });

  it('extrapolates the average rate; steady only when the recent rate agrees', () => {
    const at = START + 100_000;
    const now = {fraction: 0.5};
    expect(extrapolate(now, at, START)).toEqual({
      doneAt: START + 200_000,
      steady: false,
    });
    expect(
      extrapolate(now, at, START, {
        reading: {fraction: 0.45},
        at: START + 90_000,
      }),
    ).toEqual({doneAt: START + 200_000, steady: true});
    // Compute-style jumps: nothing for a while, then a leap.
    expect(
      extrapolate(now, at, START, {
        reading: {fraction: 0.1},
        at: START + 90_000,
      })?.steady,
    ).toBe(false);
    expect(extrapolate({fraction: 0}, at, START)).toBeUndefined();
  });
});
