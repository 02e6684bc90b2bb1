/**
 * The cost table's arithmetic: each system's quantities for 1,000 operations, priced from the list kept as data.
 */
import {
  cloudRunLoopCost,
  loadPrices,
  loopBreakEvenRate,
  opwatchCost,
  workflowsCost,
  WORKFLOW_EXTRA_STEPS,
  type CostInputs,
} from '../../bench/cost';

const inputs: CostInputs = {
  deployment: {
    concurrency: 32,
    budgetSeconds: 60,
    periodSeconds: 60,
    pollMemoryMiB: 512,
    pollCpu: 1,
    registrationMemoryMiB: 256,
    source: 'test',
  },
  perPoll: {reads: 1, writes: 1},
  perOperation: {instanceSeconds: 0.1, invocations: 0.002},
  perRegistration: {reads: 1, writes: 1, seconds: 0.02},
  notificationBytes: 800,
  ratePerSecond: 10,
};

describe('cost per 1,000 operations', () => {
  const list = loadPrices();

  it('every price says where it was read and whether it is an assumption', () => {
    expect(list.read).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const price of Object.values(list.prices)) {
      expect(price.usd).toBeGreaterThan(0);
      expect(price.source).not.toBe('');
      expect(['official', 'third-party', 'assumption']).toContain(price.status);
    }
  });

  it('opwatch: its reads and writes follow the polls, its function time the operations', () => {
    const at = (polls: number) => opwatchCost(inputs, polls, list);
    const {quantities} = at(10);
    expect(quantities.reads).toBe(10 * 1000 + 1000);
    expect(quantities.writes).toBe(10 * 1000 + 1000);
    expect(quantities.deletes).toBe(1000);
    // At least 1,000 bytes billed a message, published and delivered.
    expect(quantities.pubsubBytes).toBe(2 * 1000 * 1000);
    expect(at(20).quantities.cpuSeconds).toBe(quantities.cpuSeconds);
    const perPoll =
      list.prices.firestoreRead.usd + list.prices.firestoreWrite.usd;
    expect(at(20).totalUsd - at(10).totalUsd).toBeCloseTo(
      10 * 1000 * perPoll,
      12,
    );
  });

  it("Workflows: each connector poll is a step, beside the workflow's own", () => {
    const {quantities, totalUsd} = workflowsCost(inputs, 10, list);
    expect(quantities.workflowSteps).toBe((10 + WORKFLOW_EXTRA_STEPS) * 1000);
    expect(totalUsd).toBeCloseTo(
      quantities.workflowSteps * list.prices.workflowsInternalStep.usd +
        quantities.pubsubBytes * list.prices.pubsubByte.usd,
      12,
    );
  });

  it('a client loop on Cloud Run costs its always-on instance over the time 1,000 operations arrive in', () => {
    const loop = cloudRunLoopCost(inputs, list);
    expect(loop.quantities.cpuSeconds).toBe(100);
    const slower = cloudRunLoopCost({...inputs, ratePerSecond: 5}, list);
    expect(slower.quantities.cpuSeconds).toBe(200);
    expect(slower.totalUsd).toBeGreaterThan(loop.totalUsd);
  });

  it('below its break-even rate the loop costs more per operation than the cost it is compared with', () => {
    const rate = loopBreakEvenRate(inputs, 0.01, list);
    const at = (ratePerSecond: number) =>
      cloudRunLoopCost({...inputs, ratePerSecond}, list).totalUsd;
    expect(at(rate)).toBeCloseTo(0.01, 12);
    expect(at(rate / 2)).toBeGreaterThan(0.01);
    expect(at(rate * 2)).toBeLessThan(0.01);
  });
});
