/**
 * The answers a tick holds are budgeted from the function's memory (POLL_MEMORY_MB, Terraform's value): each
 * answer is capped so that every poll at once fits in the worker's heap beside the runtime; a memory too small for
 * the concurrency is refused at start, naming both variables. test/faults/hostile-answers.test.ts holds a real
 * poll process, its heap sized as Node.js sizes it in the function, to this budget.
 */
import {ConfigError, loadPollerConfig} from '../../../functions/core/config';
import {MAX_ANSWER_BYTES} from '../../../functions/google/operations-client';
import {
  MIN_ANSWER_BYTES,
  NATIVE_RESERVE_BYTES,
  RUNTIME_HEAP_BYTES,
  memoryBudget,
} from '../../../functions/polling/memory-budget';

const MIB = 1024 * 1024;

it('the default: 512 MB and 32 polls at once leave about 180 KiB for each answer', () => {
  const config = loadPollerConfig({GOOGLE_CLOUD_PROJECT: 'demo-opwatch'});
  expect(config.memoryMb).toBe(512);
  const budget = memoryBudget(config);
  expect(budget.maxAnswerBytes).toBeGreaterThan(128 * 1024);
  expect(budget.maxAnswerBytes).toBeLessThan(256 * 1024);
  // Every poll at once, and the registrations in hand, fit in the heap beside the runtime; the heap beside the rest.
  expect(budget.heapBytes).toBe(256 * MIB);
  expect(RUNTIME_HEAP_BYTES + budget.perTickBytes).toBeLessThanOrEqual(
    budget.heapBytes,
  );
  expect(budget.heapBytes + NATIVE_RESERVE_BYTES).toBeLessThanOrEqual(
    512 * MIB,
  );
  expect(budget.perTickBytes).toBeGreaterThanOrEqual(
    budget.perPollBytes * config.concurrency,
  );
});

it('a small memory: the heap is what is left beside Node.js, not half', () => {
  const budget = memoryBudget({memoryMb: 256, concurrency: 4});
  expect(budget.heapBytes).toBe(256 * MIB - NATIVE_RESERVE_BYTES);
});

it('more memory or fewer polls at once: larger answers, never over the 32 MiB cap', () => {
  const small = memoryBudget({memoryMb: 512, concurrency: 32}).maxAnswerBytes;
  expect(
    memoryBudget({memoryMb: 1024, concurrency: 32}).maxAnswerBytes,
  ).toBeGreaterThan(small);
  expect(
    memoryBudget({memoryMb: 512, concurrency: 8}).maxAnswerBytes,
  ).toBeGreaterThan(small);
  expect(memoryBudget({memoryMb: 32_768, concurrency: 1}).maxAnswerBytes).toBe(
    MAX_ANSWER_BYTES,
  );
});

it('a memory too small for the concurrency is refused, naming both variables', () => {
  expect(() => memoryBudget({memoryMb: 256, concurrency: 1000})).toThrow(
    ConfigError,
  );
  expect(() => memoryBudget({memoryMb: 256, concurrency: 1000})).toThrow(
    /POLL_MEMORY_MB: 256 MB .* POLL_CONCURRENCY=1000/,
  );
  expect(
    memoryBudget({memoryMb: 256, concurrency: 4}).maxAnswerBytes,
  ).toBeGreaterThanOrEqual(MIN_ANSWER_BYTES);
});

it('reads POLL_MEMORY_MB as Terraform passes it, and refuses what is not a memory', () => {
  const env = {GOOGLE_CLOUD_PROJECT: 'demo-opwatch'};
  expect(loadPollerConfig({...env, POLL_MEMORY_MB: '1024'}).memoryMb).toBe(
    1024,
  );
  for (const bad of ['64', '512.5', 'lots'])
    expect(() => loadPollerConfig({...env, POLL_MEMORY_MB: bad})).toThrow(
      /POLL_MEMORY_MB/,
    );
});
