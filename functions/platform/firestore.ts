/**
 * The Firestore client every function uses, and the error codes opwatch acts on.
 */
import {Firestore} from '@google-cloud/firestore';

/**
 * A Firestore client for `projectId`: fields given as undefined are left out, not refused. Its OpenTelemetry spans
 * are off unless FIRESTORE_ENABLE_TRACING says otherwise: opwatch exports no traces, yet the client wraps every
 * call in a span of the global no-op tracer, which profiled at 2-3 % of a registration's CPU. The variable is the
 * client's only switch for it.
 */
export function newFirestore(projectId: string): Firestore {
  process.env.FIRESTORE_ENABLE_TRACING ??= 'off';
  return new Firestore({projectId, ignoreUndefinedProperties: true});
}

/** Firestore's code for a request it refuses as malformed: for a write, a document it cannot store. */
export const INVALID_ARGUMENT = 3;
/** Firestore's code for an update of a document that no longer exists. */
export const NOT_FOUND = 5;
/** Firestore's code for a create of a document that already exists. */
export const ALREADY_EXISTS = 6;
/** Firestore's code for a write whose precondition (an update time, or that the document exists) failed. */
export const FAILED_PRECONDITION = 9;

/** The gRPC code of a Firestore error, if it has one. */
export function firestoreCode(error: unknown): number | undefined {
  const code = (error as {code?: unknown} | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
