/**
 * A whole `ListOperations` of a watched parent: every page (`pageToken` / `nextPageToken`), bounded, and read as
 * the untrusted answer it is.
 *
 * Bounds: at most {@link MAX_LIST_PAGES} pages of at most MAX_LIST_PAGE_BYTES each (operations-client.ts) and
 * {@link MAX_LIST_OPERATIONS} operations, so one list holds at most 20 MiB however the API pages; a list cut short
 * by them says so (`truncated`), and the rest waits for the next list. An entry that is not an operation directly
 * under the parent (no `name` there, a `done` that is not a boolean) is skipped and counted, never followed: the
 * registration made from an entry is polled at the URL its name makes, with the service account's token.
 */
import type {Operation} from '../core/model';
import type {ListPageResult, ListedParent} from './operations-client';

/** Pages read per list at most. */
export const MAX_LIST_PAGES = 10;
/** Operations kept per list at most. */
export const MAX_LIST_OPERATIONS = 5000;
/** A longer page token is not followed. */
const MAX_PAGE_TOKEN_CHARS = 4096;
/** An operation id, the last segment of its name: what an operation name's segments may hold (validation.ts). */
const OPERATION_ID = /^[A-Za-z0-9_.~()-]{1,512}$/;

/** What lists pages: the operations client. */
export interface PageSource {
  listPage(watch: ListedParent, pageToken?: string): Promise<ListPageResult>;
}

/** A list read whole, or why it could not be. */
export type ListResult =
  | {
      kind: 'listed';
      /** Operations directly under the parent, each once, with a name. */
      operations: (Operation & {name: string})[];
      pages: number;
      /** Entries skipped as not operations of the parent. */
      skipped: number;
      /** The bounds cut the list short. */
      truncated: boolean;
    }
  | Exclude<ListPageResult, {kind: 'page'}>;

/** A page's entries and the next page's token, or undefined when the page is not a ListOperations answer. */
function readPage(
  page: unknown,
): {entries: unknown[]; next?: string} | undefined {
  if (typeof page !== 'object' || page === null || Array.isArray(page))
    return undefined;
  const {operations, nextPageToken} = page as Record<string, unknown>;
  if (operations !== undefined && !Array.isArray(operations)) return undefined;
  if (nextPageToken !== undefined && typeof nextPageToken !== 'string')
    return undefined;
  const next =
    nextPageToken && nextPageToken.length <= MAX_PAGE_TOKEN_CHARS
      ? nextPageToken
      : undefined;
  return {entries: operations ?? [], ...(next && {next})};
}

/** True when `entry` is an operation directly under `parent`. */
function isOperationOf(
  entry: unknown,
  prefix: string,
): entry is Operation & {name: string} {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return false;
  const {name, done} = entry as Operation;
  return (
    typeof name === 'string' &&
    name.startsWith(prefix) &&
    OPERATION_ID.test(name.slice(prefix.length)) &&
    (done === undefined || typeof done === 'boolean')
  );
}

/**
 * Lists every page of a watch's parent, within the bounds.
 * @param goOn asked before each page after the first: false stops the list (the tick is ending), which then counts
 *   as truncated.
 */
export async function listOperations(
  source: PageSource,
  watch: ListedParent,
  goOn: () => boolean = () => true,
): Promise<ListResult> {
  const prefix = `${watch.parent}/operations/`;
  const found = new Map<string, Operation & {name: string}>();
  const tokens = new Set<string>();
  let skipped = 0;
  let dropped = 0;
  let pages = 0;
  let token: string | undefined;
  do {
    const result = await source.listPage(watch, token);
    if (result.kind !== 'page') return result;
    pages++;
    const page = readPage(result.page);
    if (!page) {
      const message = 'HTTP 200 but not a ListOperations page';
      return {kind: 'rejected', error: {kind: 'invalid', status: 200, message}};
    }
    for (const entry of page.entries) {
      if (!isOperationOf(entry, prefix)) skipped++;
      else if (found.size < MAX_LIST_OPERATIONS) found.set(entry.name, entry);
      else dropped++;
    }
    // A token seen before would page in a circle.
    token = page.next && !tokens.has(page.next) ? page.next : undefined;
    if (token) tokens.add(token);
  } while (
    token !== undefined &&
    pages < MAX_LIST_PAGES &&
    found.size < MAX_LIST_OPERATIONS &&
    goOn()
  );
  return {
    kind: 'listed',
    operations: [...found.values()],
    pages,
    skipped,
    truncated: token !== undefined || dropped > 0,
  };
}
