/**
 * The kind of an operation: what makes two operations likely to take about as long. The same API, the same
 * metadata `@type`, and the same verb or method where the metadata names one: a Firestore export, a Spanner DDL
 * change, a Redis instance creation.
 */
import type {Operation} from '../core/model';

/** One kind of operation. */
export interface OperationKind {
  service: string;
  /** The metadata's `@type`, without the `type.googleapis.com/` prefix. */
  type?: string;
  /** `verb`, `method` or `operationType`, as the operation names it. */
  verb?: string;
  /** Stable text of the three, the kind's identity. */
  key: string;
}

const text = (value: unknown) =>
  typeof value === 'string' && value !== '' ? value : undefined;

/**
 * The kind of `operation` on `service`, or undefined when the operation says nothing of what it does: without a
 * type or a verb, every operation of a service would share one kind, and the durations learned would mean little.
 */
export function operationKind(
  service: string,
  operation: Operation | undefined,
): OperationKind | undefined {
  const metadata = (operation?.metadata ?? {}) as Record<string, unknown>;
  const type = text(metadata['@type'])?.replace(/^[^/]*\//, '');
  // AIP's common OperationMetadata says `verb`; some APIs `method`; Compute, Cloud SQL and Firestore's
  // metadata name an `operationType`.
  const verb =
    text(metadata.verb) ??
    text(metadata.method) ??
    text(metadata.operationType) ??
    text(operation?.operationType);
  if (type === undefined && verb === undefined) return undefined;
  return {
    service,
    type,
    verb,
    key: [service, type ?? '', verb ?? ''].join(' '),
  };
}
