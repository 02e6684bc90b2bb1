/**
 * The end of a stored registration this version cannot read, met by a poll or by the sweep (hidden-sweep.ts):
 * a report on DEAD_LETTER_TOPIC with its id and the parse error, an error log, and the watch ended `poll_error`
 * with `lastError.kind: "corrupt"`, which also stops it counting against its owner's pending quota. No
 * notification goes to its topic, which cannot be trusted.
 *
 * The report is published like a notification: under the lease's fence, and when Pub/Sub refuses it, tried again
 * (a minute apart) until the publish grace has run from the first refusal, at least three times over at least a
 * minute (core/policy.ts); then the watch ends all the same, the error log saying the report was lost.
 */
import {Timestamp, type QueryDocumentSnapshot} from '@google-cloud/firestore';
import {undeliverableAt} from '../core/policy';
import {corruptReport} from '../notify/dead-letter';
import {publishWithin} from './outcome-publish';
import type {TickContext} from './tick-context';

/** Between two tries of a refused report. */
const REPORT_RETRY_MS = 60_000;

/** The refusals of this document's report so far, as far as its fields can be read. */
function refusalsOf(snapshot: QueryDocumentSnapshot) {
  const failures: unknown = snapshot.get('publishFailures');
  const since: unknown = snapshot.get('publishFailingSince');
  return {
    publishFailures:
      Number.isSafeInteger(failures) && (failures as number) >= 0
        ? (failures as number)
        : undefined,
    publishFailingSince:
      since instanceof Timestamp ? since.toMillis() : undefined,
  };
}

/**
 * Reports and ends the corrupt registration of `snapshot`; if the lease could run out first, or the report is
 * refused and may be tried again, it is left pending for a later poll.
 */
export async function endCorrupt(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
  problem: string,
): Promise<void> {
  tick.counts.corrupt++;
  const now = tick.now();
  const deadLetterTopic = tick.deps.deadLetterTopic;
  let reportLost: string | undefined;
  if (deadLetterTopic) {
    if (tick.fenced()) return;
    try {
      await publishWithin(
        tick,
        deadLetterTopic,
        corruptReport(snapshot.id, problem, now),
      );
    } catch (error) {
      reportLost = `publishing to ${deadLetterTopic} failed: ${(error as Error).message}`;
      const refusals = refusalsOf(snapshot);
      if (!undeliverableAt(refusals, now, tick.deps.publishGraceMs))
        return retryReport(tick, snapshot, refusals, reportLost);
    }
  }
  tick.deps.log.error('corrupt registration document', {
    registrationId: snapshot.id,
    problem,
    ...(deadLetterTopic && {deadLetterTopic, deadLettered: !reportLost}),
    ...(reportLost && {error: reportLost}),
  });
  await tick.write(snapshot, {
    state: 'poll_error',
    updatedAt: now,
    lastPolledAt: now,
    finishedAt: now,
    lastError: {kind: 'corrupt', message: problem},
  });
}

/** Leaves the registration pending, its report's refusal counted, to be tried again a minute on. */
async function retryReport(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
  refusals: ReturnType<typeof refusalsOf>,
  reportLost: string,
): Promise<void> {
  const now = tick.now();
  const held = tick.throttle.pass(`report ${tick.deps.deadLetterTopic}`);
  if (held !== undefined) {
    tick.deps.log.warn(reportLost, {
      registrationId: snapshot.id,
      ...(held > 0 && {alsoFailedSinceLastLine: held}),
    });
  }
  await tick.write(snapshot, {
    state: 'pending',
    updatedAt: now,
    nextPollAt: now + REPORT_RETRY_MS,
    publishFailures: (refusals.publishFailures ?? 0) + 1,
    publishFailingSince: refusals.publishFailingSince ?? now,
  });
}
