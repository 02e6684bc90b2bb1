/**
 * One watch's list within a tick, under the tick's lease: its parent listed whole (google/operations-list.ts), each
 * entry planned (watches/watch-plan.ts) and acted on, then the watch written.
 *
 * A new running operation becomes a registration of the watch, due only after the next list: while it runs, the
 * lists see it, and the one that finds it done finishes it from its entry, so an operation shorter than the list
 * interval costs no poll at all. A new operation already done is notified from its entry; a pending one found done
 * is finished from its entry. As everywhere in the poller, the notification is published before its registration
 * is written: a crash repeats a message, never drops one, and a registration's id is derived from the watch and
 * the operation (core/watch.ts), so two lists never make two.
 */
import type {
  DocumentSnapshot,
  QueryDocumentSnapshot,
} from '@google-cloud/firestore';
import {readDocument, toDocument} from '../core/document';
import {readWatch} from '../core/watch-document';
import type {Operation, Registration} from '../core/model';
import {decide, type Transition} from '../core/policy';
import {pendingRegistration} from '../core/registration-start';
import {DEFAULT_TIMEOUT_MS} from '../core/schemas';
import {operationKey, watchedRegistrationId, type Watch} from '../core/watch';
import {listOperations} from '../google/operations-list';
import {within} from '../platform/deadline';
import {ALREADY_EXISTS, firestoreCode} from '../platform/firestore';
import {planEntry} from '../watches/watch-plan';
import {publishOutcome} from './outcome-publish';
import {save} from './poll-settle';
import type {TickContext} from './tick-context';
import {endWatch, listFailed, saveWatch, watchRefusal} from './watch-ending';

/** Registrations read per `getAll` (Firestore's limit on one batch read is far higher; this bounds one call). */
const READ_BATCH = 300;

type Entry = Operation & {name: string};

/** Lists the watch of `snapshot` once, as part of `tick`. */
export async function listWatch(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
): Promise<void> {
  if (!tick.mayStart()) return;
  const watch = await readOrEnd(tick, snapshot);
  if (!watch) return;
  const now = tick.now();
  if (now >= watch.deadline) return endWatch(tick, snapshot, watch, 'expired');
  const refusal = watchRefusal(tick, watch);
  if (refusal) return endWatch(tick, snapshot, watch, 'poll_error', refusal);
  const result = await listOperations(tick.deps.client, watch, () =>
    tick.mayStart(),
  );
  tick.counts.listed++;
  if (result.kind !== 'listed')
    return listFailed(tick, snapshot, watch, result);
  if (result.skipped > 0 || result.truncated) {
    tick.deps.log.warn('watch list: entries skipped or list cut short', {
      watchId: watch.id,
      skipped: result.skipped,
      truncated: result.truncated,
      pages: result.pages,
    });
  }
  const existing = await readRegistrations(tick, watch, result.operations);
  const baseline = new Set(watch.baseline);
  const taken: string[] = [];
  await Promise.all(
    result.operations.map(async (operation, index) => {
      const found = existing[index];
      const known = found.exists ? registrationOf(found) : undefined;
      const action = planEntry(
        watch,
        operation,
        found.exists ? (known ?? ENDED) : undefined,
        baseline,
      );
      if (action === 'baseline') taken.push(operationKey(operation.name));
      else if (action === 'register')
        await startRegistration(tick, watch, operation, found);
      else if (action === 'notify')
        await notifyNew(tick, watch, operation, found);
      else if (action === 'finish' && known)
        await tick.exclusive(found, () =>
          finishFromList(tick, found, known, operation),
        );
    }),
  );
  await saveListed(tick, snapshot, watch, taken, now);
}

/** The watch in `snapshot`, or undefined once a document this version cannot read has been ended. */
async function readOrEnd(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
): Promise<Watch | undefined> {
  const listing = tick.deps.watches!;
  try {
    return readWatch(snapshot);
  } catch (error) {
    tick.counts.corrupt++;
    tick.deps.log.error('corrupt watch document', {
      watchId: snapshot.id,
      problem: (error as Error).message,
    });
    const now = tick.now();
    await within(
      listing.store.save(snapshot, {
        state: 'poll_error',
        updatedAt: now,
        finishedAt: now,
        lastError: {kind: 'corrupt', message: (error as Error).message},
      }),
      tick.timings.writeDeadlineMs,
      'ending a corrupt watch',
    ).catch(() => undefined);
    return undefined;
  }
}

/**
 * A stored registration, or for one this version cannot read, undefined: the poller ends that document itself
 * (`corrupt`), and the list must neither make it again nor notify its operation, so it counts as ended.
 */
function registrationOf(snapshot: DocumentSnapshot): Registration | undefined {
  const read = readDocument(snapshot);
  return read.ok ? read.registration : undefined;
}

/** What an unreadable registration counts as. */
const ENDED = {state: 'poll_error'} as const;

/** The watch's registrations of `operations`, in their order (a snapshot that does not exist for a new one). */
async function readRegistrations(
  tick: TickContext,
  watch: Watch,
  operations: Entry[],
): Promise<DocumentSnapshot[]> {
  const {firestore, registrationsName} = tick.deps.watches!.store;
  const refs = operations.map(operation =>
    firestore
      .collection(registrationsName)
      .doc(
        watchedRegistrationId(
          urlOf(watch, operation.name),
          watch.topic,
          watch.owner,
          watch.id,
        ),
      ),
  );
  const snapshots: DocumentSnapshot[] = [];
  for (let at = 0; at < refs.length; at += READ_BATCH) {
    const batch = refs.slice(at, at + READ_BATCH);
    if (batch.length === 0) break;
    snapshots.push(
      ...(await within(
        firestore.getAll(...batch),
        tick.deps.leaseMs,
        'reading watched registrations',
      )),
    );
  }
  return snapshots;
}

function urlOf(watch: Watch, name: string): string {
  return `https://${watch.service}/${watch.version}/${name}`;
}

/** The registration a watch makes for `operation`, pending, as first seen at `now`. */
function watchedRegistration(
  watch: Watch,
  operation: Entry,
  now: number,
): Registration {
  const url = urlOf(watch, operation.name);
  const id = watchedRegistrationId(url, watch.topic, watch.owner, watch.id);
  const request = {
    operation: {
      service: watch.service,
      version: watch.version,
      name: operation.name,
      url,
    },
    topic: watch.topic,
    labels: watch.labels,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    scopes: watch.scopes,
    style: watch.style,
  };
  return {
    ...pendingRegistration(request, id, watch.owner, now, watch.tenant),
    watchId: watch.id,
    lastOperation: operation,
  };
}

/** Creates a registration's document unless it exists (a list repeated after a crash found it first). */
async function createOnce(
  tick: TickContext,
  target: DocumentSnapshot,
  registration: Registration,
): Promise<void> {
  const document = toDocument(
    registration,
    tick.deps.watches!.store.retentionMs,
  );
  try {
    await within(
      target.ref.create(document),
      tick.timings.writeDeadlineMs,
      'writing a watched registration',
    );
  } catch (error) {
    if (firestoreCode(error) !== ALREADY_EXISTS) throw error;
  }
}

/** A new running operation: a registration of the watch, first due after the next list. */
async function startRegistration(
  tick: TickContext,
  watch: Watch,
  operation: Entry,
  target: DocumentSnapshot,
): Promise<void> {
  const now = tick.now();
  const registration = watchedRegistration(watch, operation, now);
  const nextPollAt = now + 2 * tick.deps.watches!.listIntervalMs;
  await createOnce(tick, target, {
    ...registration,
    nextPollAt: Math.min(nextPollAt, registration.deadline),
  });
}

/**
 * Publishes a list entry's ending; undefined when it was not published and the registration's own poll should
 * take it from here: the lease could run out first, or the notification cannot be built from the entry (a fault
 * the poll path charges to its registration).
 */
async function publishEntry(
  tick: TickContext,
  registration: Registration,
  operation: Entry,
  now: number,
): Promise<Transition | undefined> {
  const decided = decide(
    registration,
    {kind: 'operation', operation},
    now,
    tick.random,
  );
  try {
    return await publishOutcome(
      tick,
      registration,
      {...decided, attempts: registration.attempts},
      now,
    );
  } catch {
    return undefined;
  }
}

/**
 * A new operation already done after the watch began: published from its entry, then stored as ended (or pending
 * with its refused publish counted, or, unpublished, pending for its own poll).
 */
async function notifyNew(
  tick: TickContext,
  watch: Watch,
  operation: Entry,
  target: DocumentSnapshot,
): Promise<void> {
  if (tick.fenced()) return;
  const now = tick.now();
  const registration = watchedRegistration(watch, operation, now);
  const transition = await publishEntry(tick, registration, operation, now);
  if (!transition) return createOnce(tick, target, registration);
  const state = transition.outcome ?? 'pending';
  await createOnce(tick, target, {
    ...registration,
    state,
    nextPollAt: transition.nextPollAt,
    ...(transition.lastError && {lastError: transition.lastError}),
    ...(transition.publishFailures !== undefined && {
      publishFailures: transition.publishFailures,
      publishFailingSince: transition.publishFailingSince,
    }),
    ...(state !== 'pending' && {finishedAt: now}),
  });
}

/** The watch's pending registration, found done by the list: finished from its entry, without a poll. */
async function finishFromList(
  tick: TickContext,
  snapshot: DocumentSnapshot,
  registration: Registration,
  operation: Entry,
): Promise<void> {
  if (tick.fenced()) return;
  const now = tick.now();
  const transition = await publishEntry(tick, registration, operation, now);
  if (transition) await save(tick, snapshot, {transition}, now);
}

/** Writes the list's result to the watch; a watch cancelled meanwhile has the registrations this list made cancelled. */
async function saveListed(
  tick: TickContext,
  snapshot: QueryDocumentSnapshot,
  watch: Watch,
  baseline: string[],
  now: number,
): Promise<void> {
  const listing = tick.deps.watches!;
  await saveWatch(tick, snapshot, watch, {
    lists: watch.lists + 1,
    lastListedAt: now,
    nextListAt: now + listing.listIntervalMs,
    updatedAt: now,
    errorStreak: 0,
    lastError: undefined,
    ...(watch.lists === 0 && {baseline}),
  });
}
