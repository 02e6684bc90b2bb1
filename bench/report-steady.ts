/**
 * Sections 4 and 5 of docs/benchmarks.md: throughput and CPU as deployed at a steady state, and the cost of 1,000
 * operations for opwatch, Cloud Workflows and a client loop on Cloud Run.
 */
import {formatInterval, tInterval, type Interval} from './ci';
import {OPWATCH_INFORMED} from './contenders';
import {
  cloudRunLoopCost,
  loadPrices,
  loopBreakEvenRate,
  opwatchCost,
  workflowsCost,
  WORKFLOW_EXTRA_STEPS,
  type CostBreakdown,
  type CostInputs,
  type PriceList,
} from './cost';
import type {Deployment} from './deployed';
import {WORKFLOWS, type FamilyEvaluation} from './evaluation';
import {cores, mib, pct, table} from './report-format';
import {
  API_LATENCY,
  API_SERVER_ERRORS,
  DURATION_MS,
  type SteadyRun,
} from './steady';
import {fmt, mean} from './stats';

const cpuMsPerPoll = (r: SteadyRun) =>
  ((r.cpu.cores['poll function'] ?? NaN) * r.windowSeconds * 1000) / r.polls;
const cpuMsPerRegistration = (r: SteadyRun) =>
  ((r.cpu.cores['operations function'] ?? NaN) * r.windowSeconds * 1000) /
  r.arrived;
const perSecond = (count: number, r: SteadyRun) => count / r.windowSeconds;

/** The figures of a run that the spread row and the cost read. */
const FIGURES: [string, (r: SteadyRun) => number][] = [
  ['arrived/s', r => perSecond(r.arrived, r)],
  ['completed/s', r => perSecond(r.completed, r)],
  ['polls/s', r => perSecond(r.polls, r)],
  ['poll fn CPU ms/poll', cpuMsPerPoll],
  ['operations fn CPU ms/registration', cpuMsPerRegistration],
  ['poll fn reads/poll', r => r.pollProbe.reads / r.pollsTotal],
  ['poll fn writes/poll', r => r.pollProbe.writes / r.pollsTotal],
  ['registration p99 (ms)', r => r.registrationP99Ms],
];

/** The mean latency of the API's log-normal, for Little's law. */
const meanLatencyMs = () => {
  const sigma = Math.log(API_LATENCY.p99Ms / API_LATENCY.medianMs) / 2.3263;
  return API_LATENCY.medianMs * Math.exp((sigma * sigma) / 2);
};

/** Section 4. */
export function steadySection(
  runs: readonly SteadyRun[],
  deployment: Deployment,
): string {
  const [first] = runs;
  const cap = (deployment.concurrency * 1000) / meanLatencyMs();
  const spread = (f: (r: SteadyRun) => number) =>
    formatInterval(tInterval(runs.map(f)));
  return [
    '### 4. Throughput and CPU as deployed, at a steady state',
    '',
    `The real \`operations\` and \`poll\` functions, each a Functions Framework process with the deployment's settings (${deployment.source}: POLL_CONCURRENCY ${deployment.concurrency}, POLL_BUDGET_SECONDS ${deployment.budgetSeconds}, a tick every ${deployment.periodSeconds} s; the poll function's instance ${deployment.pollMemoryMiB} MiB and ${deployment.pollCpu} vCPU). Registrations arrive through \`POST /operations\` at ${first.ratePerSecond}/s, each operation done ${DURATION_MS.min / 1000} s to ${DURATION_MS.max / 1000} s later (log-uniform); the fake operations API answers after a log-normal latency (median ${API_LATENCY.medianMs} ms, p99 ${API_LATENCY.p99Ms} ms) and answers ${pct(100 * API_SERVER_ERRORS)} of requests with a 500 or a 503. After a warm-up of ${fmt(first.warmUpSeconds)} s, a window of ${fmt(first.windowSeconds)} s counts arrivals, completions (notifications pulled from the topic), polls (requests the fake answered) and CPU (from /proc); the steady state holds when completions are within 5 % of arrivals and the backlog grows by less than that over the window. ${runs.length} run(s), each in a fresh collection.${first.windowSeconds < 600 ? ` **This window is shorter than the 10 minutes of a full run${runs.length < 3 ? `, and with ${runs.length} run there is no spread` : ''}: a quick run.**` : ''}`,
    '',
    table(
      [
        'run',
        'steady',
        'backlog start → end',
        ...FIGURES.map(([name]) => name),
        '5xx answered',
        'poll fn peak RSS',
        'CPU (cores)',
      ],
      runs.map((r, i) => [
        String(i + 1),
        r.steady ? 'yes' : '**no**',
        `${r.backlogStart} → ${r.backlogEnd}`,
        ...FIGURES.map(([, f]) => fmt(f(r))),
        pct(100 * r.serverErrorShare),
        mib(r.pollProbe.peakRssKb),
        cores(r.cpu),
      ]),
    ),
    '',
    runs.length > 1
      ? `Across the ${runs.length} runs (mean ± 95 % t interval): ${FIGURES.map(([name, f]) => `${name} ${spread(f)}`).join('; ')}.`
      : 'One run: no spread across runs.',
    '',
    `- **Steady state held in ${runs.filter(r => r.steady).length} of ${runs.length} runs.** At ${first.ratePerSecond} registrations/s one instance polled ${spread(r => perSecond(r.polls, r))} polls/s; Little's law caps a tick at POLL_CONCURRENCY / mean latency = ${deployment.concurrency} / ${fmt(meanLatencyMs())} ms = ${fmt(cap)} polls/s against this API, so the offered load uses about ${fmt((100 * mean(runs.map(r => perSecond(r.polls, r)))) / cap)} % of it. Everything (emulators, both functions, the load and the fake API) shares this machine's CPUs.`,
    '',
  ].join('\n');
}

/** The cost model's inputs, the means over the steady runs. */
export function costInputs(
  runs: readonly SteadyRun[],
  deployment: Deployment,
): CostInputs {
  const avg = (f: (r: SteadyRun) => number) => mean(runs.map(f));
  return {
    deployment,
    perPoll: {
      reads: avg(r => r.pollProbe.reads / r.pollsTotal),
      writes: avg(r => r.pollProbe.writes / r.pollsTotal),
    },
    perOperation: {
      instanceSeconds: avg(r => r.windowSeconds / r.arrived),
      invocations: avg(
        r => r.windowSeconds / deployment.periodSeconds / r.arrived,
      ),
    },
    perRegistration: {
      reads: avg(r => r.registrationProbe.reads / r.registeredTotal),
      writes: avg(r => r.registrationProbe.writes / r.registeredTotal),
      seconds: avg(r => r.registrationP50Ms / 1000),
    },
    notificationBytes: avg(r => r.notificationBytes),
    ratePerSecond: avg(r => r.arrived / r.windowSeconds),
  };
}

const usd = (value: number) => `$${fmt(value, 3)}`;
/** A cost linear in polls/op, over polls/op's interval, in dollars. */
const costInterval = (cost: (polls: number) => number, polls: Interval) =>
  '$' +
  formatInterval({
    mean: cost(polls.mean),
    low: cost(polls.low),
    high: cost(polls.high),
    n: polls.n,
  });

function breakdownTable(rows: readonly CostBreakdown[]): string {
  const q = (r: CostBreakdown, key: keyof CostBreakdown['quantities']) =>
    fmt(r.quantities[key]);
  return table(
    [
      'system',
      'invocations',
      'vCPU-s',
      'GiB-s',
      'Firestore reads',
      'writes',
      'deletes',
      'Pub/Sub bytes',
      'Workflows steps',
      'total',
    ],
    rows.map(r => [
      r.system,
      q(r, 'invocations'),
      q(r, 'cpuSeconds'),
      q(r, 'memoryGiBSeconds'),
      q(r, 'reads'),
      q(r, 'writes'),
      q(r, 'deletes'),
      q(r, 'pubsubBytes'),
      q(r, 'workflowSteps'),
      usd(r.totalUsd),
    ]),
  );
}

const pollsOf = (family: FamilyEvaluation, key: string) =>
  family.rows.find(r => r.contender.key === key)!.intervals.pollsMean;

/** What the cost table says: opwatch against Workflows on every family, and against the loop by rate. */
function costFindings(
  inputs: CostInputs,
  families: readonly FamilyEvaluation[],
  {
    reference,
    loop,
    list,
  }: {
    reference: FamilyEvaluation;
    loop: CostBreakdown;
    list: PriceList;
  },
): string[] {
  const polls = pollsOf(reference, OPWATCH_INFORMED.key).mean;
  const ours = opwatchCost(inputs, polls, list);
  const cheaper = families.filter(family => {
    const opwatch = pollsOf(family, OPWATCH_INFORMED.key);
    const workflows = pollsOf(family, WORKFLOWS.key);
    return (
      opwatchCost(inputs, opwatch.high, list).totalUsd <
      workflowsCost(inputs, workflows.low, list).totalUsd
    );
  });
  const firestore =
    (ours.usd.reads ?? 0) + (ours.usd.writes ?? 0) + (ours.usd.deletes ?? 0);
  // Everything opwatch pays besides its poll function's time, which at a lower rate was not measured.
  const withoutTicks = opwatchCost(
    {...inputs, perOperation: {instanceSeconds: 0, invocations: 0}},
    polls,
    list,
  );
  const breakEven = loopBreakEvenRate(inputs, withoutTicks.totalUsd, list);
  return [
    `- opwatch costs less than Workflows on ${cheaper.length} of ${families.length} families (the whole interval below): Workflows bills every connector poll as a step, at ${usd(list.prices.workflowsInternalStep.usd * 1000)} per 1,000, where an opwatch poll costs a Firestore read and write.`,
    `- opwatch's cost is mostly Firestore: ${usd(firestore)} of its ${usd(ours.totalUsd)} per 1,000 operations on the reference family. At the steady state's ${fmt(inputs.ratePerSecond, 3)} operations/s the always-on loop costs ${usd(loop.totalUsd)}, ${loop.totalUsd < ours.totalUsd ? 'less' : 'more'} than opwatch. The loop's instance costs the same whatever the load: below about ${fmt(breakEven, 2)} operations/s it costs more per operation than everything opwatch pays besides its poll function's time (${usd(withoutTicks.totalUsd)} per 1,000 here), which at such a rate was not measured.`,
  ];
}

/** Section 5: cost per 1,000 operations, per family, and one family's breakdown. */
export function costSection(
  inputs: CostInputs,
  families: readonly FamilyEvaluation[],
): string {
  const list = loadPrices();
  const polls = pollsOf;
  const loop = cloudRunLoopCost(inputs, list);
  const reference = families.find(f => f.role === 'held-out') ?? families[0];
  const ours = opwatchCost(
    inputs,
    polls(reference, OPWATCH_INFORMED.key).mean,
    list,
  );
  const theirs = polls(reference, WORKFLOWS.key).mean;
  return [
    '### 5. Cost per 1,000 operations',
    '',
    `From list prices kept as data (bench/data/prices.json, read on ${list.read} from stored copies of the pages below; free tiers left out). opwatch: each operation registered once, polled as often as the evaluation's opwatch informed row says, notified once, its document deleted once by TTL; per poll ${fmt(inputs.perPoll.reads, 3)} reads and ${fmt(inputs.perPoll.writes, 3)} writes (the poll process's, lease included); per operation ${fmt(inputs.perOperation.instanceSeconds * 1000, 3)} ms of the poll function's billed instance time and ${fmt(inputs.perOperation.invocations, 3)} of its invocations (a tick is a request for as long as it works, which under the steady state's ${fmt(inputs.ratePerSecond, 3)} operations/s is all the time: the poll function costs time, not polls; at a lower rate a tick ends early when nothing is due, and each operation's share grows); per registration ${fmt(inputs.perRegistration.reads, 3)} reads, ${fmt(inputs.perRegistration.writes, 3)} writes and ${fmt(inputs.perRegistration.seconds * 1000, 3)} ms of request time; a notification of ${fmt(inputs.notificationBytes)} bytes (billed at least 1,000, published and delivered), all measured in section 4. Cloud Workflows: each connector polling attempt is an internal step, plus ${WORKFLOW_EXTRA_STEPS} steps for the call, the publish and the return, polls as Workflows' row. A client loop on Cloud Run: one always-on instance of the poll function's size serving ${fmt(inputs.ratePerSecond, 3)} operations/s, its cost independent of polls; at a lower rate it costs more per operation (it runs all the time), and its watches live in memory (a restart loses them).`,
    '',
    table(
      [
        'family',
        'set',
        'opwatch',
        'Cloud Workflows',
        'client loop on Cloud Run',
      ],
      families.map(family => [
        family.key,
        family.role,
        costInterval(
          p => opwatchCost(inputs, p, list).totalUsd,
          polls(family, OPWATCH_INFORMED.key),
        ),
        costInterval(
          p => workflowsCost(inputs, p, list).totalUsd,
          polls(family, WORKFLOWS.key),
        ),
        usd(loop.totalUsd),
      ]),
    ),
    '',
    `Quantities and price per 1,000 operations on ${reference.key}:`,
    '',
    breakdownTable([ours, workflowsCost(inputs, theirs, list), loop]),
    '',
    ...costFindings(inputs, families, {reference, loop, list}),
    '',
    'Prices (USD, us-central1 / Tier 1):',
    '',
    ...Object.values(list.prices).map(
      p => `- ${p.quote} per ${p.unit} (${p.status}): ${p.source}`,
    ),
    '',
  ].join('\n');
}
