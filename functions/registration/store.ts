/**
 * The registration store: one Firestore document per registration, shaped for the poller's query
 * (`state == "pending" and nextPollAt <= now, order by nextPollAt`, composite index in infra/) and for a TTL
 * policy on `expireAt`, which is set when a watch ends so finished registrations disappear after the retention.
 */
import type {Firestore} from '@google-cloud/firestore';
import {BatchedWrites} from '../platform/batched-writes';
import {ALREADY_EXISTS, firestoreCode} from '../platform/firestore';
import {fromDocument, readDocument, toDocument} from '../core/document';
import {
  registrationId,
  type NewRegistration,
  type Registration,
  type State,
} from '../core/model';
import {pendingRegistration} from '../core/registration-start';
import {MIN_POLL_INTERVAL_MS} from '../core/policy';

/** Codes a new registration's create is tried again on (BulkWriter's own), and how often at most. */
const CREATE_RETRIED = new Set([
  8 /* RESOURCE_EXHAUSTED */, 10 /* ABORTED */, 14 /* UNAVAILABLE */,
]);
const CREATE_ATTEMPTS = 3;

/** A page of registrations. */
export interface RegistrationPage {
  registrations: Registration[];
  /** Documents of the page this version cannot read: which, and why. */
  unreadable?: Array<{id: string; problem: string}>;
  /** Opaque token for the next page; absent on the last one. */
  nextPageToken?: string;
}

/** What is kept of a watch that had ended when its operation was registered again. */
export type EndedWatch = Pick<
  Registration,
  'state' | 'finishedAt' | 'attempts' | 'lastError'
>;

/** What a stored watch ended with; for one this version cannot read, `poll_error` saying why. */
function endedWatch(read: ReturnType<typeof readDocument>): EndedWatch {
  if (read.ok) {
    const {state, finishedAt, attempts, lastError} = read.registration;
    return {state, finishedAt, attempts, lastError};
  }
  return {
    state: 'poll_error',
    attempts: 0,
    lastError: {kind: 'corrupt', message: read.problem},
  };
}

/** Thrown for a page token this store did not issue. */
export class InvalidPageTokenError extends Error {}

/** A page token naming the last id of a page. */
export function encodePageToken(id: string): string {
  return Buffer.from(JSON.stringify({after: id})).toString('base64url');
}

/**
 * The last id of the page before, from a token {@link encodePageToken} made.
 * @throws InvalidPageTokenError for a token this API did not issue.
 */
export function decodePageToken(token: string): string {
  try {
    const {after} = JSON.parse(
      Buffer.from(token, 'base64url').toString('utf8'),
    ) as {after?: unknown};
    if (typeof after === 'string' && /^[0-9a-f]{32}$/.test(after)) return after;
  } catch {
    // Falls through to the error below.
  }
  throw new InvalidPageTokenError('pageToken is not one this API issued');
}

/** Reads and writes registrations in one Firestore collection. */
export class RegistrationStore {
  /** New registrations' creates, sharing requests. */
  private readonly creates: BatchedWrites;

  constructor(
    readonly firestore: Firestore,
    readonly collectionName: string,
    readonly retentionMs: number,
  ) {
    // Someone waits on each: a few tries, then the API answers 503 and the caller tries again.
    this.creates = new BatchedWrites(
      firestore,
      error =>
        CREATE_RETRIED.has(error.code) &&
        error.failedAttempts < CREATE_ATTEMPTS,
    );
  }

  /** The collection holding the registrations. */
  get collection() {
    return this.firestore.collection(this.collectionName);
  }

  /**
   * Stores a new registration, or finds the pending one already stored for the same operation and topic. One whose
   * watch has ended (any state but pending) is replaced by a new watch, and what it ended with is returned.
   * `trace` (the registering request's) is kept with a new watch, for the log lines about it in ticks.
   * @returns the registration, whether this call started the watch, and the ended watch it replaced, if any.
   */
  async register(
    request: NewRegistration,
    owner: string,
    now: number,
    tenant?: string,
    trace?: string,
  ): Promise<{
    registration: Registration;
    created: boolean;
    previous?: EndedWatch;
  }> {
    const id = registrationId(request.operation.url, request.topic, owner);
    const registration = pendingRegistration(
      request,
      id,
      owner,
      now,
      tenant,
      trace,
    );
    const ref = this.collection.doc(id);
    try {
      await this.creates.create(
        ref,
        toDocument(registration, this.retentionMs),
      );
      return {registration, created: true};
    } catch (error) {
      if (firestoreCode(error) !== ALREADY_EXISTS) throw error;
    }
    return this.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(ref);
      const read = snapshot.exists ? readDocument(snapshot) : undefined;
      if (read?.ok && read.registration.state === 'pending')
        return {registration: read.registration, created: false};
      // Registered again at once, the new watch of the operation still keeps the floor between two polls.
      const lastPolledAt = read?.ok
        ? read.registration.lastPolledAt
        : undefined;
      const restarted = {
        ...registration,
        nextPollAt: Math.max(
          now,
          (lastPolledAt ?? -Infinity) + MIN_POLL_INTERVAL_MS,
        ),
      };
      // An ended watch, or one stored in a form this version cannot read: the new watch takes its place.
      transaction.set(ref, toDocument(restarted, this.retentionMs));
      if (!read) return {registration: restarted, created: true};
      return {
        registration: restarted,
        created: true,
        previous: endedWatch(read),
      };
    });
  }

  /** The registration with this id, if any. */
  async get(id: string): Promise<Registration | undefined> {
    const snapshot = await this.collection.doc(id).get();
    return snapshot.exists ? fromDocument(snapshot) : undefined;
  }

  /** How many registrations of one owner, or of one tenant, are pending. */
  async countPending(of: 'owner' | 'tenant', name: string): Promise<number> {
    const snapshot = await this.collection
      .where(of, '==', name)
      .where('state', '==', 'pending')
      .count()
      .get();
    return snapshot.data().count;
  }

  /**
   * A page of registrations, optionally in one state, of one owner or of one tenant, in id order (which the
   * automatic indexes serve).
   * @throws InvalidPageTokenError for a token this store did not issue.
   */
  async list(options: {
    state?: State;
    owner?: string;
    tenant?: string;
    pageSize: number;
    pageToken?: string;
  }): Promise<RegistrationPage> {
    let query = this.collection.orderBy('__name__').limit(options.pageSize + 1);
    if (options.state) query = query.where('state', '==', options.state);
    for (const field of ['owner', 'tenant'] as const) {
      const value = options[field];
      if (value !== undefined) query = query.where(field, '==', value);
    }
    if (options.pageToken)
      query = query.startAfter(decodePageToken(options.pageToken));
    const snapshot = await query.get();
    const documents = snapshot.docs.slice(0, options.pageSize);
    const more = snapshot.docs.length > options.pageSize;
    const registrations: Registration[] = [];
    const unreadable: Array<{id: string; problem: string}> = [];
    for (const document of documents) {
      const read = readDocument(document);
      if (read.ok) registrations.push(read.registration);
      else unreadable.push({id: document.id, problem: read.problem});
    }
    return {
      registrations,
      ...(unreadable.length > 0 && {unreadable}),
      ...(more && {
        nextPageToken: encodePageToken(documents[documents.length - 1].id),
      }),
    };
  }

  /**
   * Stops watching: a pending registration becomes `cancelled`; a finished one is left as it is.
   * @param owner when given, only a registration of this owner is cancelled; another's counts as none.
   * @returns the registration after the call, or undefined if there is none.
   */
  async cancel(
    id: string,
    now: number,
    owner?: string,
  ): Promise<Registration | undefined> {
    const ref = this.collection.doc(id);
    return this.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(ref);
      if (!snapshot.exists) return undefined;
      const registration = fromDocument(snapshot);
      if (owner !== undefined && registration.owner !== owner) return undefined;
      if (registration.state !== 'pending') return registration;
      const update = {
        state: 'cancelled' as const,
        updatedAt: now,
        finishedAt: now,
      };
      transaction.update(ref, toDocument(update, this.retentionMs));
      return {...registration, ...update};
    });
  }
}
