/**
 * The registration store: one Firestore document per registration, shaped for the poller's query
 * (`state == "pending" and nextPollAt <= now, order by nextPollAt`, composite index in infra/) and for a TTL
 * policy on `expireAt`, which is set when a watch ends so finished registrations disappear after the retention.
 */
import {
  FieldValue,
  Timestamp,
  type DocumentSnapshot,
  type Firestore,
} from '@google-cloud/firestore';
import {
  STATES,
  registrationId,
  type NewRegistration,
  type Registration,
  type State,
} from '../model';

/** Firestore's code for a document that already exists. */
const ALREADY_EXISTS = 6;

/**
 * The last operation seen is kept for `GET /operations/{id}` and for the notification of a watch that ends
 * without a result. Beyond this size only its name and done flag are kept, far below Firestore's 1 MiB limit.
 */
const MAX_STORED_OPERATION_BYTES = 256 * 1024;

/** A page of registrations. */
export interface RegistrationPage {
  registrations: Registration[];
  /** Opaque token for the next page; absent on the last one. */
  nextPageToken?: string;
}

/** Thrown for a page token this store did not issue. */
export class InvalidPageTokenError extends Error {}

const TIME_FIELDS = [
  'createdAt',
  'updatedAt',
  'deadline',
  'nextPollAt',
  'lastPolledAt',
  'finishedAt',
  'estimatedDoneAt',
] as const;

/** Fields a write leaves out to say they no longer hold. */
const CLEARABLE_FIELDS = [
  'lastError',
  'progressPercent',
  'estimatedDoneAt',
] as const;

/** Registration fields the poller writes after a poll. */
export type PollUpdate = Pick<
  Registration,
  'state' | 'attempts' | 'errorStreak' | 'nextPollAt' | 'lastPolledAt'
> &
  Partial<
    Pick<
      Registration,
      | 'lastError'
      | 'lastOperation'
      | 'finishedAt'
      | 'progressPercent'
      | 'estimatedDoneAt'
    >
  >;

/** Converts a stored document to a registration. */
export function fromDocument(snapshot: DocumentSnapshot): Registration {
  const data = snapshot.data() ?? {};
  const registration = {...data, id: snapshot.id} as Record<string, unknown>;
  for (const field of TIME_FIELDS) {
    const value = data[field] as Timestamp | undefined;
    if (value) registration[field] = value.toMillis();
  }
  delete registration.expireAt;
  if (typeof data.lastOperation === 'string')
    registration.lastOperation = JSON.parse(data.lastOperation);
  return registration as unknown as Registration;
}

/** Converts registration fields to what is stored: Timestamps for times, the last operation as JSON text. */
export function toDocument(
  fields: Partial<Registration>,
  retentionMs: number,
): Record<string, unknown> {
  const document: Record<string, unknown> = {...fields};
  delete document.id;
  for (const field of TIME_FIELDS) {
    const value = fields[field];
    if (value !== undefined) document[field] = Timestamp.fromMillis(value);
  }
  if (fields.lastOperation !== undefined) {
    // JSON text, because an Operation may hold nested arrays, which Firestore cannot store as a value.
    let text = JSON.stringify(fields.lastOperation);
    if (Buffer.byteLength(text) > MAX_STORED_OPERATION_BYTES) {
      text = JSON.stringify({
        name: fields.lastOperation.name,
        done: fields.lastOperation.done,
      });
    }
    document.lastOperation = text;
  }
  for (const field of CLEARABLE_FIELDS) {
    if (fields[field] === undefined && field in fields)
      document[field] = FieldValue.delete();
  }
  if (fields.state !== undefined && fields.state !== 'pending') {
    const finishedAt = fields.finishedAt ?? fields.updatedAt ?? Date.now();
    document.expireAt = Timestamp.fromMillis(finishedAt + retentionMs);
  }
  return document;
}

function encodePageToken(id: string): string {
  return Buffer.from(JSON.stringify({after: id})).toString('base64url');
}

function decodePageToken(token: string): string {
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
  constructor(
    readonly firestore: Firestore,
    readonly collectionName: string,
    readonly retentionMs: number,
  ) {}

  /** The collection holding the registrations. */
  get collection() {
    return this.firestore.collection(this.collectionName);
  }

  /**
   * Stores a new registration, or finds the one already stored for the same operation and topic.
   * A cancelled watch registered again starts over.
   * @returns the registration and whether this call started the watch.
   */
  async register(
    request: NewRegistration,
    now: number,
  ): Promise<{registration: Registration; created: boolean}> {
    const id = registrationId(request.operation.url, request.topic);
    const registration: Registration = {
      ...request,
      id,
      state: 'pending',
      createdAt: now,
      updatedAt: now,
      deadline: now + request.timeoutMs,
      nextPollAt: now,
      attempts: 0,
      errorStreak: 0,
    };
    const ref = this.collection.doc(id);
    try {
      await ref.create(toDocument(registration, this.retentionMs));
      return {registration, created: true};
    } catch (error) {
      if ((error as {code?: number}).code !== ALREADY_EXISTS) throw error;
    }
    return this.firestore.runTransaction(async transaction => {
      const existing = await transaction.get(ref);
      if (existing.exists && existing.get('state') !== 'cancelled') {
        return {registration: fromDocument(existing), created: false};
      }
      transaction.set(ref, toDocument(registration, this.retentionMs));
      return {registration, created: true};
    });
  }

  /** The registration with this id, if any. */
  async get(id: string): Promise<Registration | undefined> {
    const snapshot = await this.collection.doc(id).get();
    return snapshot.exists ? fromDocument(snapshot) : undefined;
  }

  /**
   * A page of registrations, optionally in one state, in id order (which the automatic indexes serve).
   * @throws InvalidPageTokenError for a token this store did not issue.
   */
  async list(options: {
    state?: State;
    pageSize: number;
    pageToken?: string;
  }): Promise<RegistrationPage> {
    let query = this.collection.orderBy('__name__').limit(options.pageSize + 1);
    if (options.state) query = query.where('state', '==', options.state);
    if (options.pageToken)
      query = query.startAfter(decodePageToken(options.pageToken));
    const snapshot = await query.get();
    const documents = snapshot.docs.slice(0, options.pageSize);
    const more = snapshot.docs.length > options.pageSize;
    return {
      registrations: documents.map(fromDocument),
      ...(more && {
        nextPageToken: encodePageToken(documents[documents.length - 1].id),
      }),
    };
  }

  /**
   * Stops watching: a pending registration becomes `cancelled`; a finished one is left as it is.
   * @returns the registration after the call, or undefined if there is none.
   */
  async cancel(id: string, now: number): Promise<Registration | undefined> {
    const ref = this.collection.doc(id);
    return this.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(ref);
      if (!snapshot.exists) return undefined;
      const registration = fromDocument(snapshot);
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

/** True when `value` is a registration state. */
export function isState(value: unknown): value is State {
  return (
    typeof value === 'string' && (STATES as readonly string[]).includes(value)
  );
}
