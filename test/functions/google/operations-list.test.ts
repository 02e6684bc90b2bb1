/**
 * A whole list read as the untrusted answer it is (functions/google/operations-list.ts): every page followed,
 * entries not under the parent skipped, malformed pages and failures answered, and the bounds held.
 */
import {
  MAX_LIST_OPERATIONS,
  MAX_LIST_PAGES,
  listOperations,
  type PageSource,
} from '../../../functions/google/operations-list';
import type {ListPageResult} from '../../../functions/google/operations-client';

const PARENT = 'projects/p/databases/d';
const watch = {
  service: 'firestore.googleapis.com',
  version: 'v1',
  parent: PARENT,
  scopes: [],
};
const op = (id: string, done = false) => ({
  name: `${PARENT}/operations/${id}`,
  done,
});

/** Answers pages from `pages` by token: the first for none, then `next`. */
function source(
  pages: Record<string, unknown>,
): PageSource & {asked: string[]} {
  const asked: string[] = [];
  return {
    asked,
    async listPage(_watch, token): Promise<ListPageResult> {
      asked.push(token ?? '');
      return {kind: 'page', page: pages[token ?? '']};
    },
  };
}

it('follows nextPageToken to the last page and keeps each operation once', async () => {
  const pages = source({
    '': {operations: [op('a'), op('b')], nextPageToken: 't1'},
    t1: {operations: [op('b', true), op('c', true)], nextPageToken: 't2'},
    t2: {operations: []},
  });
  const result = await listOperations(pages, watch);
  expect(pages.asked).toEqual(['', 't1', 't2']);
  expect(result).toMatchObject({kind: 'listed', pages: 3, truncated: false});
  if (result.kind !== 'listed') throw new Error('not listed');
  expect(result.operations.map(o => [o.name.slice(-1), o.done])).toEqual([
    ['a', false],
    ['b', true],
    ['c', true],
  ]);
});

it('skips what is not an operation directly under the parent', async () => {
  const result = await listOperations(
    source({
      '': {
        operations: [
          op('ok'),
          {name: 'projects/other/databases/d/operations/x'},
          {name: `${PARENT}/operations/a/b`},
          {name: `${PARENT}/operations/../../x`},
          {name: `${PARENT}/operations/x`, done: 'yes'},
          'text',
          null,
        ],
      },
    }),
    watch,
  );
  expect(result).toMatchObject({kind: 'listed', skipped: 6});
  if (result.kind === 'listed') expect(result.operations).toHaveLength(1);
});

it.each([
  ['an array', []],
  ['operations not a list', {operations: {}}],
  ['a token not a string', {operations: [], nextPageToken: 5}],
])('refuses a page that is %s', async (_what, page) => {
  expect(await listOperations(source({'': page}), watch)).toMatchObject({
    kind: 'rejected',
    error: {kind: 'invalid'},
  });
});

it('stops at a token it has seen, and at the page bound, saying it was cut short', async () => {
  const circle = source({
    '': {operations: [op('a')], nextPageToken: 't'},
    t: {operations: [op('b')], nextPageToken: 't'},
  });
  expect(await listOperations(circle, watch)).toMatchObject({
    kind: 'listed',
    pages: 2,
    truncated: false,
  });
  let page = 0;
  const endless: PageSource = {
    listPage: async () => ({
      kind: 'page',
      page: {operations: [op(`p${page}`)], nextPageToken: `t${++page}`},
    }),
  };
  expect(await listOperations(endless, watch)).toMatchObject({
    pages: MAX_LIST_PAGES,
    truncated: true,
  });
});

it('keeps at most MAX_LIST_OPERATIONS operations', async () => {
  const many = Array.from({length: MAX_LIST_OPERATIONS + 10}, (_, i) =>
    op(`o${i}`),
  );
  const result = await listOperations(source({'': {operations: many}}), watch);
  expect(result).toMatchObject({kind: 'listed', truncated: true});
  if (result.kind === 'listed')
    expect(result.operations).toHaveLength(MAX_LIST_OPERATIONS);
});

it('answers a failed page as it came, and stops when told to', async () => {
  const failing: PageSource = {
    listPage: async () => ({
      kind: 'transient',
      error: {kind: 'http', status: 503, message: 'HTTP 503'},
      retryAfterMs: 5000,
    }),
  };
  expect(await listOperations(failing, watch)).toMatchObject({
    kind: 'transient',
    retryAfterMs: 5000,
  });
  const pages = source({
    '': {operations: [op('a')], nextPageToken: 't'},
    t: {operations: [op('b')]},
  });
  expect(await listOperations(pages, watch, () => false)).toMatchObject({
    pages: 1,
    truncated: true,
  });
});
