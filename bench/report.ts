/**
 * docs/benchmarks.md, written from a run's results: the machine, the command, every figure, and for each target
 * whether it was met or by how much it was missed, with the measured cause.
 */
import type {CpuUse} from './cpu';
import {
  FIGURES,
  isDefault,
  type Row,
  type SimulatedComparison,
} from './policies';
import type {RealWorkload, WorkloadResult} from './informed';
import {PAGE_SIZE} from '../functions/polling/tick-run';
import type {RealRun} from './real-run';
import {COMPLETION_EVENTS_POLICY} from '../functions/completions/backoff';
import {EVENT_TARGETS} from './events';
import type {LoadResult} from './registration';
import type {Sweep} from './scale';
import {scaleOutSection} from './report-scale-out';
import type {ShardResults} from './shards';
import {DEFAULT_TIMING, type Figures} from './simulate';
import {fmt} from './stats';
import type {TickMeasurement} from './throughput';

/** Where and how the benchmark ran. */
export interface Machine {
  cpus: number;
  model: string;
  ramGiB: number;
  node: string;
  loadBefore: string;
  loadAfter: string;
}

/** Everything a run measured; a stage left out is absent. */
export interface Results {
  command: string;
  quick: boolean;
  startedAt: Date;
  durationMs: number;
  machine: Machine;
  latencyMs: number;
  policy?: {comparison: SimulatedComparison; real?: RealRun};
  /** opwatch with completion events beside the peers (the first two rows: opwatch, then with events). */
  events?: {simulated: Row[]; real?: RealRun};
  informed?: WorkloadResult[];
  informedReal?: RealWorkload[];
  throughput?: {
    atDefault: TickMeasurement;
    atHigh: TickMeasurement;
    memory: TickMeasurement[];
  };
  registration?: LoadResult[];
  scale?: Sweep[];
  shards?: ShardResults;
}

const HEADERS: Record<(typeof FIGURES)[number], string> = {
  pollsMean: 'mean polls/op',
  delayP50S: 'delay p50 (s)',
  delayP99S: 'delay p99 (s)',
  relativeP50: 'delay/duration p50',
  relativeP99: 'delay/duration p99',
};

const table = (header: string[], rows: string[][]) =>
  [header, header.map(() => '---'), ...rows]
    .map(cells => `| ${cells.join(' | ')} |`)
    .join('\n');

const pct = (value: number) => `${fmt(value, 3)} %`;
const mib = (kb: number) => `${fmt(kb / 1024, 3)} MiB`;
const cores = (cpu: CpuUse) =>
  Object.entries(cpu.cores)
    .map(([label, used]) => `${label} ${fmt(used, 2)}`)
    .join(', ') + `; machine ${pct(cpu.machineBusyPct)} busy`;
const verdict = (met: boolean) => (met ? '**met**' : '**not met**');

function policyTable(rows: readonly Row[]): string {
  const best = Object.fromEntries(
    FIGURES.map(key => [key, Math.min(...rows.map(r => r.figures[key]))]),
  );
  return table(
    ['policy', 'runtime', ...FIGURES.map(key => HEADERS[key])],
    rows.map(({contender, figures}) => [
      contender.name,
      contender.runtime,
      ...FIGURES.map(key => {
        const text = fmt(figures[key]);
        return figures[key] === best[key] ? `**${text}**` : text;
      }),
    ]),
  );
}

function eventsSection(
  {simulated, real}: NonNullable<Results['events']>,
  policyReal: RealRun | undefined,
): string {
  const row = simulated[1];
  const realRow = real?.rows[0];
  const targets = (f: Figures) =>
    [
      `delay p50 ${fmt(f.delayP50S)} s <= ${EVENT_TARGETS.delayP50S} s ${verdict(f.delayP50S <= EVENT_TARGETS.delayP50S)}`,
      `p99 ${fmt(f.delayP99S)} s <= ${EVENT_TARGETS.delayP99S} s ${verdict(f.delayP99S <= EVENT_TARGETS.delayP99S)}`,
      `${fmt(f.pollsMean)} polls/op <= ${EVENT_TARGETS.pollsMean} ${verdict(f.pollsMean <= EVENT_TARGETS.pollsMean)}`,
    ].join(', ');
  const lines = [
    '### 1b. opwatch + completion events',
    '',
    `With completion events (functions/completions/, \`completion_events = true\`), an operation's Admin Activity completion entry makes its registration due now and it is polled at once: by the running tick at its next read, or between ticks by a tick the \`completions\` function runs itself. Registrations back off lazily then (COMPLETION_EVENTS=true: ${COMPLETION_EVENTS_POLICY.initialDelayMs / 1000} s x${COMPLETION_EVENTS_POLICY.multiplier} <= ${COMPLETION_EVENTS_POLICY.maxDelayMs / 60_000} min, jitter ${COMPLETION_EVENTS_POLICY.jitter}), the polls being only the fallback for a lost entry. Same workload and runtime model as above; the entry reaches \`completions\` ${DEFAULT_TIMING.eventDelayMs} ms after the operation ends (the Pub/Sub push). **Cloud Logging's own routing of the entry to the sink is not included**: it is Google's, typically seconds, and adds to every delay of this row (docs/deploy.md).`,
    '',
    policyTable(simulated),
    '',
    `Targets, simulated: ${targets(row.figures)}.`,
  ];
  if (realRow && real) {
    lines.push(
      '',
      `**Real run.** The same ${real.jobsPerContender} operations as the policy stage's real run, compressed ${real.factor}x (${fmt(real.wallMs / 1000)} s of wall time, ${real.ticks} scheduled ticks, ${real.wakes} woken by registrations), in a collection of their own: each completion entry is published to an audit topic on the Pub/Sub emulator when the fake API starts answering \`done\`, and handed to the real \`completions\` handler (as the CloudEvent of a push), which runs the real poller's ticks. Notifications missing: ${real.missing}; extra notifications: ${real.duplicated}.`,
      '',
      table(
        ['policy', 'run', ...FIGURES.map(key => HEADERS[key])],
        [
          ...(policyReal?.rows ?? []).map(
            r => [r.contender.name, r.real] as const,
          ),
          [realRow.contender.name, realRow.real] as const,
        ].map(([name, f]) => [
          name,
          'real',
          ...FIGURES.map(key => fmt(f[key])),
        ]),
      ),
      '',
      `Targets, real run: ${targets(realRow.real)}.`,
      '',
      `Read the real run's delays with care: the event path (publish, delivery, the lookup and its write, the lease, a page, the poll, the publish) is Firestore and Pub/Sub round trips, which compression cannot shrink, so multiplied by ${real.factor} they are overstated. Unscaled, as measured on the wall clock, the delay was p50 ${fmt((realRow.real.delayP50S * 1000) / real.factor)} ms and p99 ${fmt((realRow.real.delayP99S * 1000) / real.factor)} ms (this machine, shared, with emulators).`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

function informedSection(
  workloads: readonly WorkloadResult[],
  real: readonly RealWorkload[] = [],
): string {
  const lines = [
    '### 1b. Informed polling: W1, W2, W3',
    '',
    "opwatch with functions/forecast/ (progress, durations learned per kind, the API owners' settings, else its waits for opaque operations) in its runtime as above (budget = period: the next tick takes the lease over; a tick wakes when a registration it polled falls due), beside the default policy and the peers, on the same draws. Simulated, then for real: the same kind of jobs through the real registration, poller, forecaster and learned durations (stored in the Firestore emulator), with the fake API answering each operation as the simulation does, on a clock running faster by the factor given (bench/clock.ts: opwatch's settings stay as deployed; only the waits shrink).",
    '',
  ];
  for (const workload of workloads) {
    lines.push(
      `**${workload.key}**, ${workload.description}.`,
      '',
      policyTable(workload.rows),
      '',
      'Targets, simulated:',
      '',
      ...workload.targets.map(
        target => `- ${target.text}: ${verdict(target.met)}`,
      ),
      '',
    );
    const realRun = real.find(r => r.key === workload.key);
    if (realRun) lines.push(realWorkloadLines(realRun), '');
  }
  return lines.join('\n');
}

function realWorkloadLines({key, run, workflows, targets}: RealWorkload) {
  const rows: [string, string, Figures][] = run.rows.flatMap(row => [
    [row.contender.name, 'real', row.real],
    [row.contender.name, 'simulated, same jobs', row.simulated],
    [
      row.contender.name,
      'simulated, measured overheads',
      row.simulatedWithOverheads,
    ],
  ]);
  rows.push(['Cloud Workflows connectors', 'simulated, same jobs', workflows]);
  return [
    `Real run of ${key}: ${run.jobsPerContender} operations per policy, compressed ${run.factor}x (window ${fmt(run.windowMs / 60_000)} min, ${fmt(run.wallMs / 1000)} s of wall time, ${run.ticks} scheduled ticks, ${run.wakes} woken by registrations); a page query took ${fmt(run.queryMs)} ms and a poll ${fmt(run.pollMs)} ms of real time, ${fmt(run.queryMs * run.factor)} ms and ${fmt(run.pollMs * run.factor)} ms on the compressed clock. Notifications missing: ${run.missing}; extra: ${run.duplicated}.`,
    '',
    table(
      ['policy', 'run', ...FIGURES.map(k => HEADERS[k])],
      rows.map(([name, how, f]) => [name, how, ...FIGURES.map(k => fmt(f[k]))]),
    ),
    '',
    'Targets, real run (against Workflows simulated on the same jobs):',
    '',
    ...targets.map(target => `- ${target.text}: ${verdict(target.met)}`),
  ].join('\n');
}

function describePolicy(f: Figures): string {
  return FIGURES.map(key => `${HEADERS[key]} ${fmt(f[key])}`).join(', ');
}

function policySection(
  {comparison, real}: NonNullable<Results['policy']>,
  latencyMs: number,
): string {
  const [opwatch, ...peers] = comparison.rows;
  const lines: string[] = [];
  const versus = FIGURES.map(key => {
    const best = peers.reduce((a, b) =>
      b.figures[key] < a.figures[key] ? b : a,
    );
    const ours = opwatch.figures[key];
    const theirs = best.figures[key];
    const wins = ours <= theirs;
    return {
      key,
      wins,
      text: `${HEADERS[key]}: opwatch ${fmt(ours)} vs best peer ${best.contender.name} ${fmt(theirs)} — ${wins ? 'opwatch as good or better' : `opwatch ${fmt(ours / theirs, 2)}x worse`}`,
    };
  });
  const won = versus.filter(v => v.wins).length;
  const swapped = comparison.swapped;
  const client = swapped[0].figures;
  const peersAtOpwatch = swapped.slice(1);
  const minRelP99 = Math.min(...peersAtOpwatch.map(r => r.figures.relativeP99));
  const beaten = (row: Row) =>
    FIGURES.filter(key => opwatch.figures[key] <= row.figures[key]).length;

  lines.push(
    "### 1. Polling policy: opwatch's default against its peers",
    '',
    `Workload: ${comparison.jobs} operations arriving uniformly over ${fmt(comparison.windowMs / 3_600_000)} h, durations log-uniform between 2 s and 30 min (seeded), ${latencyMs} ms per \`operations.get\`. ` +
      `opwatch runs through functions/polling/policy.ts \`decide()\` in its deployed runtime, simulated event by event as functions/polling/poller.ts works: a tick every ${DEFAULT_TIMING.tickEveryMs / 1000} s, a ${DEFAULT_TIMING.budgetMs / 1000} s budget, a read of due registrations when one the tick polled falls due (rounded up to ${DEFAULT_TIMING.wakeSlotMs} ms) and at least every ${DEFAULT_TIMING.recheckMs / 1000} s for new ones, each sweep waiting for its polls, ${DEFAULT_TIMING.firestoreMs} ms per Firestore round trip, concurrency ${DEFAULT_TIMING.concurrency}; a tick with nothing due within its budget ends early, and a registration made after that wakes a tick of its own (functions/polling/tick-wake.ts) that reads ${DEFAULT_TIMING.wakeDelayMs} ms later (the lease read, Pub/Sub's publish and push, the claim: an assumption, not measured on Google's side) and polls to the end of the slot. ` +
      'Each peer runs in its own runtime: a loop that polls the moment a poll is due (the first poll at once, as every client library does), its backoff written as a `PollPolicy` and run by the same `decide()`; the scheduler-tick design polls every pending operation on each even minute. The delay runs from the moment the operation was done to the publish of its notification.',
    '',
    policyTable(comparison.rows),
    '',
    'Sources: ' +
      comparison.rows
        .map(r => `${r.contender.name}: ${r.contender.source}`)
        .join('; ') +
      '.',
    '',
    `**Target: no worse than the best peer on every figure — ${verdict(won === FIGURES.length)}** (opwatch is at least as good on ${won} of ${FIGURES.length}):`,
    '',
    ...versus.map(v => `- ${v.text}`),
    '',
    'Against each peer on its own, opwatch is as good or better on: ' +
      peers
        .map(p => `${p.contender.name} ${beaten(p)}/${FIGURES.length}`)
        .join(', ') +
      '.',
    '',
    '**Why (measured by swapping runtimes on the same jobs):**',
    '',
    policyTable(swapped),
    '',
    `- The runtime, not the policy, sets opwatch's delay/duration p99: the same default policy in a client loop gets ${fmt(client.relativeP99)} instead of ${fmt(opwatch.figures.relativeP99)}, delay p50 ${fmt(client.delayP50S)} s instead of ${fmt(opwatch.figures.delayP50S)} s. ` +
      `The budget now equals the period (the next tick takes the lease over), so what remains is up to ${DEFAULT_TIMING.recheckMs / 1000} s between reads of due registrations, which for a 2 s operation is a large share of its duration. ` +
      `No policy escapes it: every peer's policy run in opwatch's runtime gets a delay/duration p99 of at least ${fmt(minRelP99)}. ` +
      `The gap between ticks mattered: with the former 50 s budget (a tick finding the lease held stood down) the default policy got ${describePolicy(comparison.narrowGap.figures)}.`,
    `- The rest is the polls-versus-delay trade-off: the peers that notify sooner poll more (${
      peers
        .filter(p => p.figures.delayP50S < opwatch.figures.delayP50S)
        .map(p => `${p.contender.name} ${fmt(p.figures.pollsMean)} polls/op`)
        .join(', ') || 'none'
    }; opwatch ${fmt(opwatch.figures.pollsMean)}), and those that poll less notify later (${
      peers
        .filter(p => p.figures.pollsMean < opwatch.figures.pollsMean)
        .map(p => `${p.contender.name} delay p50 ${fmt(p.figures.delayP50S)} s`)
        .join(', ') || 'none'
    }). One static policy sits at one point of that curve.`,
    '',
  );

  const [best, ...others] = comparison.candidates;
  const currentCount = peers.filter(p =>
    FIGURES.every(key => opwatch.figures[key] <= p.figures[key]),
  ).length;
  const policyText = (c: (typeof comparison.candidates)[number]) =>
    `${c.policy.initialDelayMs / 1000} s x${c.policy.multiplier} <= ${c.policy.maxDelayMs / 1000} s, jitter ${c.policy.jitter}${isDefault(c.policy) ? ' (the current default)' : ''}`;
  lines.push(
    `**A better default?** A grid of exponential backoffs with jitter (initial 0.5/1/2 s, multiplier 1.15–2, cap 30–60 s, jitter 0.1–1; ${comparison.searched} policies) run in opwatch's runtime on the same jobs; the best by peers dominated (as good or better on all five figures), then by dominating the current default:`,
    '',
    table(
      [
        'policy',
        ...FIGURES.map(key => HEADERS[key]),
        'dominates',
        'dominates current default',
      ],
      [best, ...others.slice(0, 4)].map(c => [
        policyText(c),
        ...FIGURES.map(key => fmt(c.figures[key])),
        c.dominates.join(', ') || '—',
        c.dominatesDefault ? 'yes' : 'no',
      ]),
    ),
    '',
    best.dominates.length > currentCount && !isDefault(best.policy)
      ? `Recommendation: **${policyText(best)}** dominates ${best.dominates.length} peer(s) (${best.dominates.join(', ')}) where the current default dominates ${currentCount}; its figures: ${describePolicy(best.figures)}${best.dominatesDefault ? ', as good or better than the current default on every figure' : ''}. DEFAULT_POLICY is unchanged; this is a recommendation.`
      : `No policy on the grid dominates more peers than the current default (${currentCount}); the delay/duration p99 that keeps opwatch from dominating the client libraries comes from the tick gap, which no policy removes.`,
    '',
    'Plot: [benchmarks-policies.svg](benchmarks-policies.svg).',
    '',
  );

  if (real) {
    lines.push(
      `**The simulation against a real run.** ${real.jobsPerContender} operations per policy (the same arrival times and durations for each), time compressed ${real.factor}x (window ${fmt(real.windowMs / 60_000)} min, ${fmt(real.wallMs / 1000)} s of wall time, ${real.ticks} ticks every ${fmt(DEFAULT_TIMING.tickEveryMs / real.factor / 1000)} s), through the real registration validation and store, the real poller on a clock ${real.factor} times faster (bench/clock.ts: its budget, rechecks and every policy as deployed; the API's latency divided by ${real.factor}), the Firestore and Pub/Sub emulators and the fake operations API; figures read on that clock (delay from the notification's \`finishedAt\`, polls from its \`attempts\`). ` +
        `A Firestore page query took ${fmt(real.queryMs)} ms and a poll ${fmt(real.pollMs)} ms of real time, which compression cannot shrink (x${real.factor}: ${fmt(real.queryMs * real.factor)} ms and ${fmt(real.pollMs * real.factor)} ms uncompressed), so the simulation is shown both as modelled and with those measured overheads. Notifications missing: ${real.missing}; extra notifications (distinct message ids for a registration already notified): ${real.duplicated}${real.duplicated ? ` (${real.duplicates.samePublish} the very same payload, i.e. one publish sent twice; ${real.duplicates.sameState} with the same attempt count, i.e. the same registration state polled twice; ${real.duplicates.laterPoll} from a later poll)` : ''}.`,
      '',
      table(
        ['policy', 'run', ...FIGURES.map(key => HEADERS[key])],
        real.rows.flatMap(row =>
          (
            [
              ['real', row.real],
              ['simulated', row.simulated],
              ['simulated + measured overheads', row.simulatedWithOverheads],
            ] as const
          ).map(([run, f]) => [
            `${row.contender.name} (in opwatch)`,
            run,
            ...FIGURES.map(key => fmt(f[key])),
          ]),
        ),
      ),
      '',
    );
  }
  return lines.join('\n');
}

function throughputSection(
  t: NonNullable<Results['throughput']>,
  latencyMs: number,
): string {
  const cap = (run: TickMeasurement) => (run.concurrency * 1000) / latencyMs;
  const runs = [t.atDefault, t.atHigh, ...t.memory.filter(m => m !== t.atHigh)];
  const perPoll = (run: TickMeasurement, count: number) =>
    count / run.counts.polled;
  const rows = runs.map(run => [
    String(run.registrations),
    String(run.concurrency),
    String(run.budgetSeconds),
    `${run.counts.polled}`,
    fmt(run.pollsPerSecond),
    fmt(cap(run)),
    `${fmt(run.readsPerPoll, 5)} / ${fmt(run.writesPerPoll, 5)}`,
    `${fmt(perPoll(run, run.probe.reads - run.probe.documentReads), 5)} / ${fmt(perPoll(run, run.probe.writes - run.probe.documentWrites), 5)}`,
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
  ]);
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
      rows,
    ),
    '',
    `- **>= 1,000 polls/s: at the default concurrency ${verdict(t.atDefault.pollsPerSecond >= 1000)}** (${fmt(t.atDefault.pollsPerSecond)}/s). With ${t.atDefault.concurrency} polls in flight and ${latencyMs} ms each, Little's law caps a tick at ${fmt(cap(t.atDefault))}/s: ${limit(t.atDefault)}. ` +
      `**At POLL_CONCURRENCY=${high.concurrency}: ${verdict(high.pollsPerSecond >= 1000)}** (${fmt(high.pollsPerSecond)}/s, ${limit(high)}).`,
    `- **<= 1 read and <= 1 write per poll: ${verdict(onePerPoll)}, per poll, plus a few per tick**: every poll wrote its registration exactly once; reads beyond one per poll were ${runs.map(r => `${extraReads(r)} at ${r.registrations}`).join(', ')} per tick (empty queries are billed 1 read; a page read again while its registrations were still in flight reads them again, though they are not polled twice); the lease adds ${runs.map(r => `${r.probe.documentReads}/${r.probe.documentWrites}`).join(', ')} reads/writes per tick (a claim, a renewal every 5 s, a release). Counting everything, the most per poll was ${fmt(Math.max(...runs.map(r => r.readsPerPoll)), 5)} reads and ${fmt(Math.max(...runs.map(r => r.writesPerPoll)), 5)} writes.`,
    `- **Exactly 1 publish per finished operation: ${verdict(exact)}** (every message pulled back and counted per registration id).`,
    `- **Memory flat in the number of registrations: ${verdict(flat)}**: peak RSS ${bySize.map(m => `${mib(m.probe.peakRssKb)} at ${m.registrations}`).join(', ')}; heap still in use after the tick and a full GC: ${bySize.map(m => mib(m.probe.heapAfterGcKb)).join(', ')}. The tick holds at most POLL_CONCURRENCY + one ${PAGE_SIZE}-document page of registrations; a peak that grows while the retained heap does not is V8 sizing its heap to a longer run's allocation, not registrations kept.`,
    '',
  ].join('\n');
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
  return sections.join('\n');
}
