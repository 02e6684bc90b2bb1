/**
 * `ListOperations` of the fake operations server (fake-operations-server.ts): the operations defined directly under
 * a parent, in the order they were defined, a page at a time, as Google APIs page them.
 */
/** An answer of the fake. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  hang?: boolean;
}
/** What the fake answers a request arriving at `now`. */
export type Responder = (now: number) => Reply;

/** The parent a `ListOperations` path names (`/{version}/{parent}/operations`), if it is one. */
export function listedParent(
  pathname: string,
  names: Iterable<string>,
): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (!decoded.endsWith('/operations')) return undefined;
  const segments = decoded.split('/').slice(1, -1);
  const candidates = [segments.slice(1).join('/'), segments.slice(2).join('/')];
  const defined = [...names];
  return (
    candidates.find(parent =>
      defined.some(name => name.startsWith(`${parent}/operations/`)),
    ) ?? candidates[0]
  );
}

/** What one page is cut from. */
export interface ListRequest {
  definitions: ReadonlyMap<string, Responder>;
  parent: string;
  query: URLSearchParams;
  /** When the request arrived: each operation answers as its `operations.get` would then. */
  now: number;
  pageSize: number;
}

/** One page: `operations`, and `nextPageToken` (an opaque offset) unless it is the last. */
export function listPage({
  definitions,
  parent,
  query,
  now,
  pageSize,
}: ListRequest): Reply {
  const prefix = `${parent}/operations/`;
  const names = [...definitions.keys()].filter(
    name => name.startsWith(prefix) && !name.slice(prefix.length).includes('/'),
  );
  const token = query.get('pageToken');
  const from =
    token === null ? 0 : Number(Buffer.from(token, 'base64url').toString());
  if (!Number.isInteger(from) || from < 0 || from > names.length) {
    const error = {
      code: 400,
      message: 'Invalid page token.',
      status: 'INVALID_ARGUMENT',
    };
    return {status: 400, body: {error}};
  }
  const operations = names
    .slice(from, from + pageSize)
    .map(name => definitions.get(name)!(now))
    .filter(reply => reply.status === 200)
    .map(reply => reply.body);
  const next = from + pageSize;
  return {
    status: 200,
    body: {
      operations,
      ...(next < names.length && {
        nextPageToken: Buffer.from(String(next)).toString('base64url'),
      }),
    },
  };
}
