/**
 * The end of a stored document this version cannot read: `poll_error` with `lastError.kind: "corrupt"` and the
 * parse error, and an error log. No notification goes to its topic, which cannot be trusted.
 */
import type {QueryDocumentSnapshot} from '@google-cloud/firestore';
import type {TickContext} from './tick-context';

/** Ends the corrupt registration of `snapshot`; if even that write fails, it is left for a later tick. */
export async function endCorrupt(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
  problem: string,
): Promise<void> {
  tick.counts.corrupt++;
  const now = tick.now();
  tick.deps.log.error('corrupt registration document', {
    registrationId: snapshot.id,
    problem,
  });
  await tick.write(snapshot, {
    state: 'poll_error',
    updatedAt: now,
    lastPolledAt: now,
    finishedAt: now,
    lastError: {kind: 'corrupt', message: problem},
  });
}
