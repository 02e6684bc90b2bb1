/**
 * Section 1 of docs/benchmarks.md, the polling policies: opwatch's default against its peers (simulated, and set
 * beside a compressed real run), then with completion events, then informed polling on workloads W1 to W3.
 */
import {COMPLETION_EVENTS_POLICY} from '../functions/core/completion-events';
import {EVENT_TARGETS} from './events';
import type {RealWorkload, WorkloadResult} from './informed';
import {
  FIGURES,
  isDefault,
  type Row,
  type SimulatedComparison,
} from './policies';
import type {RealRun} from './real-run';
import {table, verdict} from './report-format';
import type {Results} from './results';
import {DEFAULT_TIMING, type Figures} from './simulate';
import {fmt} from './stats';

const HEADERS: Record<(typeof FIGURES)[number], string> = {
  pollsMean: 'mean polls/op',
  delayP50S: 'delay p50 (s)',
  delayP99S: 'delay p99 (s)',
  relativeP50: 'delay/duration p50',
  relativeP99: 'delay/duration p99',
};

/** The figures of each row, the best of each column in bold. */
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

function describePolicy(f: Figures): string {
  return FIGURES.map(key => `${HEADERS[key]} ${fmt(f[key])}`).join(', ');
}

/** Section 1: the comparison with the peers, a better default searched for, and the real run. */
export function policySection(
  {comparison, real}: NonNullable<Results['policy']>,
  latencyMs: number,
): string {
  return [
    ...comparisonLines(comparison, latencyMs),
    ...betterDefaultLines(comparison),
    ...(real ? realRunLines(real) : []),
  ].join('\n');
}

/** Each figure of opwatch's default against the best peer on that figure. */
function versusBestPeers(opwatch: Row, peers: readonly Row[]) {
  return FIGURES.map(key => {
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
}

/** The workload, the table of opwatch and its peers, the target, and why the figures are what they are. */
function comparisonLines(
  comparison: SimulatedComparison,
  latencyMs: number,
): string[] {
  const [opwatch, ...peers] = comparison.rows;
  const versus = versusBestPeers(opwatch, peers);
  const won = versus.filter(v => v.wins).length;
  const beaten = (row: Row) =>
    FIGURES.filter(key => opwatch.figures[key] <= row.figures[key]).length;
  return [
    "### 1. Polling policy: opwatch's default against its peers",
    '',
    `Workload: ${comparison.jobs} operations arriving uniformly over ${fmt(comparison.windowMs / 3_600_000)} h, durations log-uniform between 2 s and 30 min (seeded), ${latencyMs} ms per \`operations.get\`. ` +
      `opwatch runs through functions/core/policy.ts \`decide()\` in its deployed runtime, simulated event by event as functions/polling/poller.ts works: a tick every ${DEFAULT_TIMING.tickEveryMs / 1000} s, a ${DEFAULT_TIMING.budgetMs / 1000} s budget, a read of due registrations when one the tick polled falls due (rounded up to ${DEFAULT_TIMING.wakeSlotMs} ms) and at least every ${DEFAULT_TIMING.recheckMs / 1000} s for new ones, each sweep waiting for its polls, ${DEFAULT_TIMING.firestoreMs} ms per Firestore round trip, concurrency ${DEFAULT_TIMING.concurrency}; a tick with nothing due within its budget ends early, and a registration made after that wakes a tick of its own (functions/polling/tick-wake.ts) that reads ${DEFAULT_TIMING.wakeDelayMs} ms later (the lease read, Pub/Sub's publish and push, the claim: an assumption, not measured on Google's side) and polls to the end of the slot. ` +
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
    policyTable(comparison.swapped),
    '',
    ...whyLines(comparison),
    '',
  ];
}

/** What swapping runtimes showed: the runtime sets the delay/duration p99, the policy only picks a trade-off. */
function whyLines(comparison: SimulatedComparison): string[] {
  const [opwatch, ...peers] = comparison.rows;
  const client = comparison.swapped[0].figures;
  const peersAtOpwatch = comparison.swapped.slice(1);
  const minRelP99 = Math.min(...peersAtOpwatch.map(r => r.figures.relativeP99));
  return [
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
  ];
}

/** The grid of candidate defaults, and the recommendation it makes, if any. */
function betterDefaultLines(comparison: SimulatedComparison): string[] {
  const [opwatch, ...peers] = comparison.rows;
  const [best, ...others] = comparison.candidates;
  const currentCount = peers.filter(p =>
    FIGURES.every(key => opwatch.figures[key] <= p.figures[key]),
  ).length;
  const policyText = (c: (typeof comparison.candidates)[number]) =>
    `${c.policy.initialDelayMs / 1000} s x${c.policy.multiplier} <= ${c.policy.maxDelayMs / 1000} s, jitter ${c.policy.jitter}${isDefault(c.policy) ? ' (the current default)' : ''}`;
  return [
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
  ];
}

/** The simulation set beside the compressed real run of the same jobs. */
function realRunLines(real: RealRun): string[] {
  return [
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
  ];
}

/** Section 1b: opwatch with completion events, simulated and, when run, for real. */
export function eventsSection(
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

/** Section 1b: informed polling on W1, W2 and W3, each simulated and, when run, for real. */
export function informedSection(
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
