/**
 * docs/benchmarks.md, written from a run's results: the machine, the command, every figure, and for each target
 * whether it was met or by how much it was missed, with the measured cause. Sections 2 to 4 (one tick, the
 * registration API, scale) are written here; section 1 in report-policy.ts, section 5 in report-scale-out.ts.
 */
import {PAGE_SIZE} from '../functions/polling/tick-run';
import type {LoadResult} from './registration';
import {cores, mib, pct, table, verdict} from './report-format';
import {eventsSection, informedSection, policySection} from './report-policy';
import {watchSection} from './watch';
import {scaleOutSection} from './report-scale-out';
import type {Results} from './results';
import type {Sweep} from './scale';
import {DEFAULT_TIMING} from './simulate';
import {fmt} from './stats';
import type {TickMeasurement} from './throughput';

/** Polls/s one tick can reach: Little's law with POLL_CONCURRENCY polls in flight, each taking the API's latency. */
const pollCap = (run: TickMeasurement, latencyMs: number) =>
  (run.concurrency * 1000) / latencyMs;

/** Section 2: one tick of the real `poll` function, at several sizes and concurrencies. */
function throughputSection(
  t: NonNullable<Results['throughput']>,
  latencyMs: number,
): string {
  const runs = [t.atDefault, t.atHigh, ...t.memory.filter(m => m !== t.atHigh)];
  return [
    '### 2. Throughput of one tick',
    '',
    `N registrations seeded due now (written through document.ts \`toDocument\`), the fake API answering \`done\` after ${latencyMs} ms, one call of the real \`poll\` function (Functions Framework, its own process). Reads and writes are counted inside that process by bench/probe.ts, which wraps the Firestore client's methods, billing a query its documents (at least 1): registration traffic is the queries (pages of due registrations, "when is the next one due") and the BulkWriter writes; the lease's single-document reads and writes are counted apart, per tick. Polls/s is polls over the whole tick (lease to last write). CPU ms/poll is the poll process's whole CPU time (start-up included) over its polls. Peak RSS is the process's VmHWM.`,
    '',
    table(
      [
        'registrations',
        'POLL_CONCURRENCY',
        'budget (s)',
        'polled',
        'polls/s',
        'cap = concurrency/latency',
        'reads / writes per poll, all',
        'registration reads / writes per poll',
        'lease reads / writes per tick',
        'publishes per finished op',
        'peak RSS',
        'page query (ms)',
        'poll fn CPU ms/poll',
        'poll fn cores',
        'Firestore emulator cores',
        'machine',
      ],
      runs.map(run => throughputRow(run, latencyMs)),
    ),
    '',
    ...throughputTargets(t, runs, latencyMs),
    '',
  ].join('\n');
}

/** One tick's row of the table. */
function throughputRow(run: TickMeasurement, latencyMs: number): string[] {
  const perPoll = (count: number) => count / run.counts.polled;
  return [
    String(run.registrations),
    String(run.concurrency),
    String(run.budgetSeconds),
    `${run.counts.polled}`,
    fmt(run.pollsPerSecond),
    fmt(pollCap(run, latencyMs)),
    `${fmt(run.readsPerPoll, 5)} / ${fmt(run.writesPerPoll, 5)}`,
    `${fmt(perPoll(run.probe.reads - run.probe.documentReads), 5)} / ${fmt(perPoll(run.probe.writes - run.probe.documentWrites), 5)}`,
    `${run.probe.documentReads} / ${run.probe.documentWrites}`,
    run.publishes
      ? `${run.publishes.once}/${run.counts.succeeded} once, ${run.publishes.twice} more than once, ${run.publishes.missing} missing`
      : `${run.counts.published} published (not pulled)`,
    mib(run.probe.peakRssKb),
    fmt(run.probe.queryMs / Math.max(1, run.probe.queries)),
    fmt(run.probe.cpuMs / run.counts.polled, 3),
    fmt(run.probe.cpuMs / run.counts.durationMs, 2),
    fmt(run.cpu.cores['firestore emulator'] ?? NaN, 2),
    pct(run.cpu.machineBusyPct),
  ];
}

/** The targets of one tick, each with what was measured. */
function throughputTargets(
  t: NonNullable<Results['throughput']>,
  runs: readonly TickMeasurement[],
  latencyMs: number,
): string[] {
  const cap = (run: TickMeasurement) => pollCap(run, latencyMs);
  const high = t.atHigh;
  // Per poll: each registration is read once (a page) and written once (BulkWriter); the rest is per tick.
  const registrationWrites = (r: TickMeasurement) =>
    r.probe.writes - r.probe.documentWrites;
  const extraReads = (r: TickMeasurement) =>
    r.probe.reads - r.probe.documentReads - r.counts.polled;
  const onePerPoll = runs.every(
    r =>
      registrationWrites(r) === r.counts.polled &&
      extraReads(r) <= 0.01 * r.counts.polled,
  );
  const checked = runs.filter(r => r.publishes);
  const exact = checked.every(
    r => r.publishes!.once === r.counts.succeeded && r.publishes!.twice === 0,
  );
  // Flat: the largest size peaks no higher than the middle one (+25 %) and the heap kept is the same at every size.
  const bySize = [...t.memory].sort(
    (a, b) => a.registrations - b.registrations,
  );
  const largest = bySize[bySize.length - 1].probe;
  const middle = bySize[Math.floor(bySize.length / 2)].probe;
  const kept = bySize.map(m => m.probe.heapAfterGcKb);
  const flat =
    largest.peakRssKb <= 1.25 * middle.peakRssKb &&
    Math.max(...kept) <= 1.25 * Math.min(...kept);
  const limit = (run: TickMeasurement) =>
    `${fmt((100 * run.pollsPerSecond) / cap(run))} % of the concurrency x latency cap (${fmt(cap(run))}/s); each poll held its slot about ${fmt((1000 * run.concurrency) / run.pollsPerSecond)} ms (concurrency / rate: the API's ${latencyMs} ms, then the publish and the Firestore write, which run inside the slot, and any wait for CPU); the poll function used ${fmt(run.probe.cpuMs / run.counts.durationMs, 2)} cores over its life (one Node.js thread: about 1 at most), the Firestore emulator ${fmt(run.cpu.cores['firestore emulator'] ?? NaN, 2)}, the Pub/Sub emulator ${fmt(run.cpu.cores['pubsub emulator'] ?? NaN, 2)}, the fake API ${fmt(run.cpu.cores['bench (fake API)'] ?? NaN, 2)}; the machine was ${pct(run.cpu.machineBusyPct)} busy`;
  return [
    `- **>= 1,000 polls/s: at the default concurrency ${verdict(t.atDefault.pollsPerSecond >= 1000)}** (${fmt(t.atDefault.pollsPerSecond)}/s). With ${t.atDefault.concurrency} polls in flight and ${latencyMs} ms each, Little's law caps a tick at ${fmt(cap(t.atDefault))}/s: ${limit(t.atDefault)}. ` +
      `**At POLL_CONCURRENCY=${high.concurrency}: ${verdict(high.pollsPerSecond >= 1000)}** (${fmt(high.pollsPerSecond)}/s, ${limit(high)}).`,
    `- **<= 1 read and <= 1 write per poll: ${verdict(onePerPoll)}, per poll, plus a few per tick**: every poll wrote its registration exactly once; reads beyond one per poll were ${runs.map(r => `${extraReads(r)} at ${r.registrations}`).join(', ')} per tick (empty queries are billed 1 read; a page read again while its registrations were still in flight reads them again, though they are not polled twice); the lease adds ${runs.map(r => `${r.probe.documentReads}/${r.probe.documentWrites}`).join(', ')} reads/writes per tick (a claim, a renewal every 5 s, a release). Counting everything, the most per poll was ${fmt(Math.max(...runs.map(r => r.readsPerPoll)), 5)} reads and ${fmt(Math.max(...runs.map(r => r.writesPerPoll)), 5)} writes.`,
    `- **Exactly 1 publish per finished operation: ${verdict(exact)}** (every message pulled back and counted per registration id).`,
    `- **Memory flat in the number of registrations: ${verdict(flat)}**: peak RSS ${bySize.map(m => `${mib(m.probe.peakRssKb)} at ${m.registrations}`).join(', ')}; heap still in use after the tick and a full GC: ${bySize.map(m => mib(m.probe.heapAfterGcKb)).join(', ')}. The tick holds at most POLL_CONCURRENCY + one ${PAGE_SIZE}-document page of registrations; a peak that grows while the retained heap does not is V8 sizing its heap to a longer run's allocation, not registrations kept.`,
  ];
}

function registrationSection(results: readonly LoadResult[]): string {
  const best = results.find(
    r => r.requestsPerSecond >= 500 && r.latencyP99Ms <= 50,
  );
  return [
    '### 3. Registration API',
    '',
    "autocannon against the real `operations` function (Functions Framework, its own process) on the Firestore emulator, every request a `POST /operations` of a different operation (each one a Firestore `create`), after a 2 s warm-up. All requests are one owner's, far below its MAX_PENDING_PER_OWNER, as most owners are: its pending registrations are counted once per 10 s, not per request (functions/registration/pending-quota.ts; an owner within a tenth of its bound is counted on every request).",
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

function scaleSection(
  sweeps: readonly Sweep[],
  latencyMs: number,
  throughput: Results['throughput'],
): string {
  const first = sweeps[0];
  const cpuBound = throughput?.atHigh;
  const needed = (first.registrations * 1000) / DEFAULT_TIMING.budgetMs;
  return [
    '### 4. Scale',
    '',
    `N pending registrations of operations that never finish, due times spread uniformly over one minute (a steady state at the default policy's 60 s cap: each registration polled about once a minute), one \`poll\` process, a tick every 60 s as Cloud Scheduler would, until each has been polled once. Lateness = first poll - due time. To keep up, the ${DEFAULT_TIMING.budgetMs / 1000} s of each minute a tick works must poll N registrations: ${fmt(needed)} polls/s for N = ${first.registrations}.`,
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
      return `- **Every registration polled within 5 s of its due time at POLL_CONCURRENCY=${s.concurrency}: ${verdict(all)}** (${pct(s.lateness.within5sPct)}). ${short ? `One instance polled ${fmt(s.pollsPerSecond)}/s where ${fmt(needed)}/s are needed: ${fmt(needed / s.pollsPerSecond, 2)}x short${s.sweepSeconds === undefined ? `; it swept ${fmt(sweepRate)} registrations a tick, so a full sweep would take about ${fmt(s.registrations / sweepRate)} ticks (minutes)` : ''}. ` : `One instance polled ${fmt(s.pollsPerSecond)}/s, enough for the ${fmt(needed)}/s needed. `}Limits measured: concurrency x latency cap ${fmt(cap)}/s (${fmt((100 * s.pollsPerSecond) / cap)} % used); poll function ${fmt(s.cpu.cores['poll function'] ?? NaN, 2)} cores; Firestore emulator ${fmt(s.cpu.cores['firestore emulator'] ?? NaN, 2)} cores with ${fmt(s.probe.queryMs / Math.max(1, s.probe.queries))} ms per page query; machine ${pct(s.cpu.machineBusyPct)} busy. The tick reads its pages one after the other, so it can start at most ${PAGE_SIZE} polls per page query: ${fmt(pageBound)}/s at ${fmt(queryMs)} ms a query${s.pollsPerSecond >= 0.75 * pageBound ? ", about the rate measured: the limit is the emulator's query, which scans the collection (compare stage 2's page query times at 10,000 and 50,000), where Firestore serves it from the composite index" : ', well above the rate measured, so the query is not what limits it'}. Registrations due in the ${(DEFAULT_TIMING.tickEveryMs - DEFAULT_TIMING.budgetMs) / 1000} s between ticks wait for the next one by design.`;
    }),
    ...(cpuBound
      ? [
          `- Without the emulator's query cost, the next limit is the poll process's CPU: stage 2 measured ${fmt(cpuBound.pollsPerSecond)} polls/s at POLL_CONCURRENCY=${cpuBound.concurrency} with ${fmt(cpuBound.probe.cpuMs / cpuBound.counts.polled, 3)} ms of CPU per poll, so one instance could keep about ${fmt(cpuBound.pollsPerSecond * (DEFAULT_TIMING.budgetMs / 1000), 2)} registrations at a one-minute cadence, ${fmt(needed / cpuBound.pollsPerSecond, 2)}x short of ${first.registrations}. The lease lets one instance poll a collection at a time, so more registrations than that need more collections (deployments) or less CPU per poll.`,
        ]
      : []),
    '',
  ].join('\n');
}

/** The Markdown report. */
export function report(results: Results): string {
  const {machine} = results;
  const sections = [
    '# Benchmarks',
    '',
    results.quick
      ? '**Quick smoke run: sizes are reduced; these are not the reference numbers.**\n'
      : '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand, run it again.',
    '',
    `- Date: ${results.startedAt.toISOString()}; run took ${fmt(results.durationMs / 60_000)} min`,
    `- Command: \`${results.command}\``,
    `- Machine: ${machine.cpus} CPUs (${machine.model}), ${fmt(machine.ramGiB)} GiB RAM; Node.js ${machine.node}`,
    `- Load (uptime) before: ${machine.loadBefore}; after: ${machine.loadAfter}. Everything (emulators, functions, fake API, load generator) shares these CPUs, so other load on the machine shows in every figure.`,
    `- Fake operations API latency: ${results.latencyMs} ms per request.`,
    '',
  ];
  if (results.policy)
    sections.push(policySection(results.policy, results.latencyMs));
  if (results.events)
    sections.push(eventsSection(results.events, results.policy?.real));
  if (results.informed)
    sections.push(informedSection(results.informed, results.informedReal));
  if (results.throughput)
    sections.push(throughputSection(results.throughput, results.latencyMs));
  if (results.registration)
    sections.push(registrationSection(results.registration));
  if (results.scale?.length)
    sections.push(
      scaleSection(results.scale, results.latencyMs, results.throughput),
    );
  const scaleOut = scaleOutSection(results);
  if (scaleOut) sections.push(scaleOut);
  if (results.watch) sections.push(watchSection(results.watch));
  return sections.join('\n');
}
