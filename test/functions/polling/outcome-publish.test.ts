/**
 * The dead-letter publish is fenced by the lease like every other publish: a watch whose notification was
 * refused for long enough goes to the dead-letter topic only while the lease leaves room for that publish and
 * the write after it; otherwise the registration is left, due, to the next holder.
 */
import type {Registration} from '../../../functions/core/model';
import {decide} from '../../../functions/core/policy';
import {createLogger, LogThrottle} from '../../../functions/platform/log';
import {leaseTimings} from '../../../functions/polling/lease-timings';
import {publishOutcome} from '../../../functions/polling/outcome-publish';
import {
  newTickCounts,
  type PollerDependencies,
  type TickContext,
} from '../../../functions/polling/tick-context';
import {newRegistration} from '../../support/new-registration';

const NOW = 1_800_000_000_000;
const TOPIC = 'projects/p/topics/gone';
const DEAD_LETTER = 'projects/p/topics/dead-letter';

/** A registration whose notification was refused twice, the first time two minutes ago. */
const registration: Registration = {
  ...newRegistration(
    'firestore.googleapis.com',
    'projects/p/databases/d/operations/o',
    TOPIC,
  ),
  id: '0123456789abcdef0123456789abcdef',
  owner: 'anonymous',
  state: 'pending',
  createdAt: NOW - 600_000,
  updatedAt: NOW - 60_000,
  deadline: NOW - 300_000,
  nextPollAt: NOW,
  attempts: 5,
  errorStreak: 0,
  publishFailures: 2,
  publishFailingSince: NOW - 120_000,
};

function tick(fencedAfter: number, published: string[]): TickContext {
  let checks = 0;
  return {
    deps: {
      sink: {
        publish: async (topic: string) => {
          published.push(topic);
          if (topic === TOPIC) throw new Error('5 NOT_FOUND: Topic not found');
          return 'id';
        },
      },
      log: createLogger(() => {}),
      publishGraceMs: 1000,
      deadLetterTopic: DEAD_LETTER,
    } as unknown as PollerDependencies,
    timings: leaseTimings(15_000),
    counts: newTickCounts(),
    throttle: new LogThrottle(60_000, () => NOW),
    now: () => NOW,
    random: () => 0,
    mayStart: () => true,
    stopped: () => false,
    fenced: () => ++checks > fencedAfter,
    exclusive: (_snapshot, work) => work(),
    write: async () => ({written: true}),
  };
}

const done = decide(
  registration,
  {kind: 'operation', operation: {name: 'o', done: true, response: {}}},
  NOW,
  () => 0,
);

it('with room on the lease: refused, then dead-lettered, and the watch ends undeliverable', async () => {
  const published: string[] = [];
  const ended = await publishOutcome(
    tick(Infinity, published),
    registration,
    done,
    NOW,
  );
  expect(published).toEqual([TOPIC, DEAD_LETTER]);
  expect(ended?.outcome).toBe('undeliverable');
});

it('with the lease about to run out after the refused publish: no dead-letter publish, nothing to write', async () => {
  const published: string[] = [];
  const ended = await publishOutcome(
    tick(0, published),
    registration,
    done,
    NOW,
  );
  expect(published).toEqual([TOPIC]);
  expect(ended).toBeUndefined();
});
