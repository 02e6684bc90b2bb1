/**
 * MAX_PENDING_PER_OWNER without a count per registration: an owner far below the bound is counted once per fresh
 * period, the instance's own registrations are added to that count, and an owner near the bound is counted afresh
 * every time, so a refusal always comes from a fresh count.
 */
import {PendingQuota} from '../../../functions/registration/pending-quota';

const FRESH_MS = 60;
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** A store holding `pending[owner]` pending registrations, counting the counts. */
function store(pending: Record<string, number>) {
  const counts: string[] = [];
  return {
    counts,
    count: async (owner: string) => {
      counts.push(owner);
      return pending[owner] ?? 0;
    },
  };
}

it('counts an owner far below the bound once per fresh period, and apart from other owners', async () => {
  const {counts, count} = store({a: 10, b: 20});
  const quota = new PendingQuota(count, 100, FRESH_MS);
  for (let n = 0; n < 5; n++) {
    expect(await quota.allows('a')).toBe(true);
    quota.started('a');
  }
  expect(await quota.allows('b')).toBe(true);
  expect(counts).toEqual(['a', 'b']);
  await sleep(FRESH_MS + 20);
  expect(await quota.allows('a')).toBe(true);
  expect(counts).toEqual(['a', 'b', 'a']);
});

it('counts afresh within a tenth of the bound, adding what this instance started, and refuses only on a fresh count', async () => {
  const pending = {a: 0};
  const {counts, count} = store(pending);
  const quota = new PendingQuota(count, 10, FRESH_MS);
  for (let n = 0; n < 9; n++) {
    expect(await quota.allows('a')).toBe(true);
    quota.started('a');
    pending.a++;
  }
  // Nine started since the first count: within a tenth of the bound, so counted again, and allowed.
  expect(counts).toHaveLength(1);
  expect(await quota.allows('a')).toBe(true);
  expect(counts).toHaveLength(2);
  quota.started('a');
  pending.a++;
  expect(await quota.allows('a')).toBe(false);
  expect(counts).toHaveLength(3);
  // Some finished meanwhile: the next fresh count lets the owner register again.
  pending.a = 4;
  expect(await quota.allows('a')).toBe(true);
});

it('counts an owner once for concurrent registrations, and again after a failed count', async () => {
  let calls = 0;
  let fail = true;
  const quota = new PendingQuota(
    async () => {
      calls++;
      await sleep(10);
      if (fail) throw new Error('firestore down');
      return 0;
    },
    100,
    FRESH_MS,
  );
  await expect(quota.allows('a')).rejects.toThrow('firestore down');
  fail = false;
  const answers = await Promise.all(
    Array.from({length: 5}, () => quota.allows('a')),
  );
  expect(answers).toEqual(Array(5).fill(true));
  expect(calls).toBe(2);
});

it('with a bound of one, counts every time', async () => {
  const {counts, count} = store({});
  const quota = new PendingQuota(count, 1, FRESH_MS);
  expect(await quota.allows('a')).toBe(true);
  quota.started('a');
  expect(await quota.allows('a')).toBe(true);
  expect(counts).toEqual(['a', 'a']);
});
