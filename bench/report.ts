/**
 * docs/benchmarks.md, written from a run's results: the machine, the command, every figure, and for each target
 * whether it was met, with the measured cause. The header, the registration API and scale are written here; the
 * other sections in report-evaluation.ts, report-real.ts, report-steady.ts and report-scale-out.ts, in the order
 * of {@link SECTIONS}.
 */
import {PAGE_SIZE} from '../functions/polling/tick-run';
import type {LoadResult} from './registration';
import {EVENTS_FAMILY} from './events';
import {evaluationSection} from './report-evaluation';
import {cores, pct, table, verdict} from './report-format';
import {eventsSection, realSection} from './report-real';
import {scaleOutSection} from './report-scale-out';
import {watchSection} from './watch';
import {costInputs, costSection, steadySection} from './report-steady';
import type {Results} from './results';
import type {Sweep} from './scale';
import type {Timing} from './simulate';
import {fmt} from './stats';

function registrationSection(results: readonly LoadResult[]): string {
  const best = results.find(
    r => r.requestsPerSecond >= 500 && r.latencyP99Ms <= 50,
  );
  return [
    '### 6. Registration API',
    '',
    "autocannon against the real `operations` function (Functions Framework, its own process) on the Firestore emulator, every request a `POST /operations` of a different operation (each one a Firestore `create`), after a 2 s warm-up. All requests are one owner's, far below its MAX_PENDING_PER_OWNER, as most owners are: its pending registrations are counted once per 10 s, not per request (functions/registration/pending-quota.ts; an owner within a tenth of its bound is counted on every request). One run per connection count: no spread across runs.",
    '',
    table(
      [
        'connections',
        'seconds',
        'req/s',
        'p50 (ms)',
        'p99 (ms)',
        '2xx',
        'non-2xx',
        'errors',
        'CPU (cores)',
      ],
      results.map(r => [
        String(r.connections),
        String(r.durationSeconds),
        fmt(r.requestsPerSecond),
        fmt(r.latencyP50Ms),
        fmt(r.latencyP99Ms),
        String(r.created),
        String(r.non2xx),
        String(r.errors),
        cores(r.cpu),
      ]),
    ),
    '',
    `- **>= 500 req/s with p99 <= 50 ms: ${verdict(best !== undefined)}**${best ? ` (with ${best.connections} connections)` : ''}. ` +
      results
        .map(
          r =>
            `${r.connections} connections: ${fmt(r.requestsPerSecond)} req/s, p99 ${fmt(r.latencyP99Ms)} ms (${r.requestsPerSecond >= 500 ? 'rate met' : `rate ${fmt(500 / r.requestsPerSecond, 2)}x short`}, ${r.latencyP99Ms <= 50 ? 'p99 met' : `p99 ${fmt(r.latencyP99Ms / 50, 2)}x over`}; ${cores(r.cpu)})`,
        )
        .join('; ') +
      '.',
    `- Cause: the \`operations\` function is one Node.js process, and it used ${results.map(r => `${fmt(r.cpu.cores['operations function'] ?? NaN, 2)} cores at ${r.connections} connections`).join(', ')}: about ${fmt(Math.min(...results.map(r => (1000 * (r.cpu.cores['operations function'] ?? NaN)) / r.requestsPerSecond)), 2)} ms of CPU per registration (validation, Express and the Functions Framework, the Firestore \`create\`), so one process tops out near ${fmt(Math.max(...results.map(r => r.requestsPerSecond / (r.cpu.cores['operations function'] ?? NaN))))} req/s per core here, and more connections only queue (p99 grows). Cloud Functions runs more instances of this function as load grows, as it runs one poll instance per shard.`,
    '',
  ].join('\n');
}

function scaleSection(sweeps: readonly Sweep[], timing: Timing): string {
  const first = sweeps[0];
  const {latencyMs} = timing;
  const needed = (first.registrations * 1000) / timing.budgetMs;
  return [
    '### 7. Scale',
    '',
    `N pending registrations of operations that never finish, due times spread uniformly over one minute (a steady state at the default policy's 60 s cap: each registration polled about once a minute), one \`poll\` process, a tick every ${timing.tickEveryMs / 1000} s as Cloud Scheduler would, at the deployed POLL_CONCURRENCY, the fake API answering in ${latencyMs} ms, until each has been polled once. Lateness = first poll - due time; one run, so no spread across runs. To keep up, the ${timing.budgetMs / 1000} s of each minute a tick works must poll N registrations: ${fmt(needed)} polls/s for N = ${first.registrations}.`,
    '',
    table(
      [
        'registrations',
        'POLL_CONCURRENCY',
        'ticks',
        'swept',
        'full sweep (s)',
        'polls/s',
        'lateness p50 / p99 / max (s)',
        'polled within 5 s',
        'due inside a budget: p99, within 5 s',
        'query mean (ms)',
        'CPU (cores)',
      ],
      sweeps.map(s => [
        String(s.registrations),
        String(s.concurrency),
        String(s.ticks),
        String(s.swept),
        s.sweepSeconds === undefined ? 'not finished' : fmt(s.sweepSeconds),
        fmt(s.pollsPerSecond),
        `${fmt(s.lateness.p50)} / ${fmt(s.lateness.p99)} / ${fmt(s.lateness.max)}`,
        pct(s.lateness.within5sPct),
        `${fmt(s.latenessInBudget.p99)} s, ${pct(s.latenessInBudget.within5sPct)}`,
        fmt(s.probe.queryMs / Math.max(1, s.probe.queries)),
        cores(s.cpu),
      ]),
    ),
    '',
    ...sweeps.map(s => {
      const cap = (s.concurrency * 1000) / latencyMs;
      const all = s.lateness.within5sPct >= 100;
      const short = s.pollsPerSecond < needed;
      const queryMs = s.probe.queryMs / Math.max(1, s.probe.queries);
      const pageBound = (PAGE_SIZE * 1000) / queryMs;
      const sweepRate = s.swept / s.ticks;
      return `- **Every registration polled within 5 s of its due time at POLL_CONCURRENCY=${s.concurrency}: ${verdict(all)}** (${pct(s.lateness.within5sPct)}). ${short ? `One instance polled ${fmt(s.pollsPerSecond)}/s where ${fmt(needed)}/s are needed: ${fmt(needed / s.pollsPerSecond, 2)}x short${s.sweepSeconds === undefined ? `; it swept ${fmt(sweepRate)} registrations a tick, so a full sweep would take about ${fmt(s.registrations / sweepRate)} ticks (minutes)` : ''}. ` : `One instance polled ${fmt(s.pollsPerSecond)}/s, enough for the ${fmt(needed)}/s needed. `}Limits measured: concurrency x latency cap ${fmt(cap)}/s (${fmt((100 * s.pollsPerSecond) / cap)} % used); poll function ${fmt(s.cpu.cores['poll function'] ?? NaN, 2)} cores; Firestore emulator ${fmt(s.cpu.cores['firestore emulator'] ?? NaN, 2)} cores with ${fmt(s.probe.queryMs / Math.max(1, s.probe.queries))} ms per page query; machine ${pct(s.cpu.machineBusyPct)} busy. The tick reads its pages one after the other, so it can start at most ${PAGE_SIZE} polls per page query: ${fmt(pageBound)}/s at ${fmt(queryMs)} ms a query${s.pollsPerSecond >= 0.75 * pageBound ? ", about the rate measured: the limit is the emulator's query, which scans the collection (it grows with the collection), where Firestore serves it from the composite index" : ', well above the rate measured, so the query is not what limits it'}. Registrations due in the ${(timing.tickEveryMs - timing.budgetMs) / 1000} s between ticks wait for the next one by design.`;
    }),
    '',
  ].join('\n');
}

/**
 * The report's sections after the header, in order; each writes nothing when its stage did not run. A new stage's
 * section is one more entry here.
 */
const SECTIONS: ((results: Results) => string | undefined)[] = [
  r => r.evaluation && evaluationSection(r.evaluation, r.timing),
  r =>
    r.events &&
    eventsSection(
      r.events,
      r.real?.find(run => run.family === EVENTS_FAMILY.key),
      r.timing,
    ),
  r => r.real && realSection(r.real),
  r => (r.steady?.length ? steadySection(r.steady, r.deployment) : undefined),
  r =>
    r.steady?.length && r.evaluation
      ? costSection(costInputs(r.steady, r.deployment), r.evaluation)
      : undefined,
  r => r.registration && registrationSection(r.registration),
  r => (r.scale?.length ? scaleSection(r.scale, r.timing) : undefined),
  scaleOutSection,
  r => r.watch && watchSection(r.watch),
];

/** The Markdown report. */
export function report(results: Results): string {
  const {machine} = results;
  const header = [
    '# Benchmarks',
    '',
    results.quick
      ? `**Quick run: stages ${results.stages.join(', ')} only, at reduced sizes; these are not the reference numbers.**\n`
      : '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand, run it again.',
    '',
    `- Date: ${results.startedAt.toISOString()}; run took ${fmt(results.durationMs / 60_000)} min`,
    `- Command: \`${results.command}\`; stages: ${results.stages.join(', ')}`,
    `- Machine: ${machine.cpus} CPUs (${machine.model}), ${fmt(machine.ramGiB)} GiB RAM; Node.js ${machine.node}`,
    `- Load (uptime) before: ${machine.loadBefore}; after: ${machine.loadAfter}. Everything (emulators, functions, fake API, load generator) shares these CPUs, so other load on the machine shows in every figure.`,
    `- Deployment, read from infra/: POLL_CONCURRENCY ${results.deployment.concurrency}, POLL_BUDGET_SECONDS ${results.deployment.budgetSeconds}, a tick every ${results.deployment.periodSeconds} s, the poll function ${results.deployment.pollMemoryMiB} MiB / ${results.deployment.pollCpu} vCPU, the registration function ${results.deployment.registrationMemoryMiB} MiB.`,
    '',
  ];
  const sections = SECTIONS.map(section => section(results)).filter(
    (text): text is string => text !== undefined,
  );
  return [...header, ...sections].join('\n');
}
