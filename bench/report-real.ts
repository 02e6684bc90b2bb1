/**
 * Sections 2 and 3 of docs/benchmarks.md: opwatch with completion events, and the compressed real runs in which
 * opwatch and its peers run side by side on the emulators, each with its own state.
 */
import {COMPLETION_EVENTS_POLICY} from '../functions/core/completion-events';
import {formatInterval, type Interval} from './ci';
import {OPWATCH_EVENTS} from './contenders';
import {FIGURES, type FamilyEvaluation} from './evaluation';
import {EVENT_TARGETS, EVENTS_FAMILY} from './events';
import {HEADERS} from './report-evaluation';
import {table} from './report-format';
import type {RealFamilyRun} from './results';
import type {RealRun, RealRow} from './real-run';
import type {Timing} from './simulate';
import {fmt} from './stats';

/** A target judged on an interval: met when all of it is within the bound. */
const within = (interval: Interval, bound: number) =>
  interval.high <= bound ? 'met' : interval.low > bound ? 'not met' : 'tie';

function eventTargets(intervals: Record<string, Interval>): string {
  return [
    `delay p50 ${formatInterval(intervals.delayP50S)} s <= ${EVENT_TARGETS.delayP50S} s: **${within(intervals.delayP50S, EVENT_TARGETS.delayP50S)}**`,
    `p99 ${formatInterval(intervals.delayP99S)} s <= ${EVENT_TARGETS.delayP99S} s: **${within(intervals.delayP99S, EVENT_TARGETS.delayP99S)}**`,
    `${formatInterval(intervals.pollsMean)} polls/op <= ${EVENT_TARGETS.pollsMean}: **${within(intervals.pollsMean, EVENT_TARGETS.pollsMean)}**`,
  ].join(', ');
}

/**
 * The table of a real run: each contender, real (with bootstrap intervals), and simulated on the same jobs as
 * modelled and with the run's measured round trips.
 */
function realTable(rows: readonly RealRow[]): string {
  const line = (r: RealRow, run: string, cells: string[]) => [
    r.contender.name,
    r.contender.runtime,
    run,
    ...cells,
  ];
  return table(
    ['policy', 'runtime', 'run', ...FIGURES.map(key => HEADERS[key])],
    rows.flatMap(r => [
      line(
        r,
        'real',
        FIGURES.map(key => formatInterval(r.intervals[key])),
      ),
      line(
        r,
        'simulated, same jobs',
        FIGURES.map(key => fmt(r.simulated[key])),
      ),
      line(
        r,
        'simulated, measured round trips',
        FIGURES.map(key => fmt(r.simulatedMeasured[key])),
      ),
    ]),
  );
}

function runLine(run: RealRun): string {
  const lost = run.rows.map(r => `${r.contender.name} ${r.missing}`).join(', ');
  const extra = run.rows
    .map(r => `${r.contender.name} ${r.duplicated}`)
    .join(', ');
  return `${run.jobsPerContender} operations per contender, compressed ${run.factor}x (window ${fmt(run.windowMs / 60_000)} min, ${fmt(run.wallMs / 1000)} s of wall time; ${run.ticks} scheduled and ${run.wakes} woken ticks over the opwatch deployments); a page query took ${fmt(run.queryMs)} ms, a poll ${fmt(run.pollMs)} ms and a publish ${fmt(run.publishMs)} ms of real time: ${fmt(run.queryMs * run.factor)} ms, ${fmt(run.pollMs * run.factor)} ms and ${fmt(run.publishMs * run.factor)} ms on the compressed clock, which the "measured round trips" simulation takes in place of the model's. Not notified: ${lost}. Notifications beyond the first: ${extra}.`;
}

/** Section 2: completion events, simulated, and in the real run of their family when there was one. */
export function eventsSection(
  simulated: FamilyEvaluation,
  real: RealFamilyRun | undefined,
  timing: Timing,
): string {
  const events = simulated.rows.find(
    r => r.contender.key === OPWATCH_EVENTS.key,
  )!;
  const lines = [
    '### 2. opwatch + completion events',
    '',
    `With completion events (functions/completions/, \`completion_events = true\`), an operation's Admin Activity completion entry makes its registration due now and it is polled at once. Registrations back off lazily then (COMPLETION_EVENTS=true: ${COMPLETION_EVENTS_POLICY.initialDelayMs / 1000} s x${COMPLETION_EVENTS_POLICY.multiplier} <= ${COMPLETION_EVENTS_POLICY.maxDelayMs / 60_000} min, jitter ${COMPLETION_EVENTS_POLICY.jitter}). Family ${EVENTS_FAMILY.key} (${EVENTS_FAMILY.description}), ${simulated.seeds.length} seeds; the entry reaches \`completions\` ${timing.eventDelayMs} ms after the operation ends. **Cloud Logging's own routing of the entry to the sink is not included**: it is Google's, typically seconds, and adds to every delay of this row (docs/deploy.md).`,
    '',
    table(
      ['policy', 'runtime', ...FIGURES.map(key => HEADERS[key])],
      simulated.rows.map(r => [
        r.contender.name,
        r.contender.runtime,
        ...FIGURES.map(key => formatInterval(r.intervals[key])),
      ]),
    ),
    '',
    `Targets, simulated (met when the whole interval is within): ${eventTargets(events.intervals)}.`,
  ];
  const realRow = real?.run.rows.find(
    r => r.contender.key === OPWATCH_EVENTS.key,
  );
  if (realRow)
    lines.push(
      '',
      `**Real run** (section 3, ${EVENTS_FAMILY.key}, beside the peers on the same jobs): each completion entry is published to an audit topic on the Pub/Sub emulator when the fake API starts answering \`done\`, and handed to the real \`completions\` handler, which runs the real poller's ticks. Intervals: 95 % bootstrap over the run's operations.`,
      '',
      realTable([realRow]),
      '',
      `Targets, real run: ${eventTargets(realRow.intervals)}. The event path (publish, delivery, the lookup and its write, the lease, a page, the poll, the publish) is emulator round trips, which compression cannot shrink: on the run's clock each is ${real!.run.factor} times as long, as the "measured round trips" row shows.`,
    );
  lines.push('');
  return lines.join('\n');
}

/** Section 3: the real runs of opwatch and its peers, side by side, each with its own state. */
export function realSection(runs: readonly RealFamilyRun[]): string {
  return [
    '### 3. Real runs: opwatch and its peers in the same harness',
    '',
    "The same jobs for every contender, at the same moments, on the Firestore and Pub/Sub emulators and the fake operations API, on a clock running F times faster (bench/clock.ts: opwatch's settings and every backoff stay as deployed; only the waits shrink). Each contender has its own state: each opwatch contender is a deployment of its own (its own collection, so its own registrations, lease and learned durations; its own topic; the real validation, store, tick wake and poller), and each peer is one client loop per operation in the benchmark's process (bench/client-loop.ts: it GETs the operation over HTTP, waits as its backoff says, and publishes to a topic of its own when done). Every operation is its own in the fake API, started when its contender registers it. One delay for all: from the moment the operation was done to Pub/Sub accepting its notification (opwatch's sink and the loops' publisher note the acceptance). Intervals: 95 % bootstrap over the run's operations (one run); the simulation of the same jobs is beside each row.",
    '',
    ...runs.flatMap(({family, role, description, run}) => [
      `**${family}** (${role}): ${description}. ${runLine(run)}`,
      '',
      realTable(run.rows),
      '',
    ]),
    ...(runs.length === 0 ? ['No real run in this report.', ''] : []),
  ].join('\n');
}
