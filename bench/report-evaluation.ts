/**
 * Section 1 of docs/benchmarks.md: the forecaster on the tuning and the held-out families, every figure a mean
 * over the seeds with its 95 % interval, a win claimed only where intervals part, and issue 24's targets.
 */
import {formatInterval, type Interval} from './ci';
import {OPWATCH_INFORMED, type Contender} from './contenders';
import {
  FIGURES,
  WORKFLOWS,
  verdictAgainst,
  type FamilyEvaluation,
  type FigureKey,
  type SeededRow,
  type TargetCheck,
} from './evaluation';
import {table} from './report-format';
import type {Timing} from './simulate';
import {fmt} from './stats';

/** Column headers of the figures. */
export const HEADERS: Record<FigureKey, string> = {
  pollsMean: 'mean polls/op',
  delayP50S: 'delay p50 (s)',
  delayP99S: 'delay p99 (s)',
  relativeP50: 'delay/duration p50',
  relativeP99: 'delay/duration p99',
};

const row = (family: FamilyEvaluation, contender: Contender) =>
  family.rows.find(r => r.contender.key === contender.key)!;

/** How the simulation runs each contender: the runtime model, with the deployment's settings. */
export function runtimeModel(timing: Timing): string {
  return `opwatch runs as functions/polling/poller.ts works, simulated event by event (bench/simulate.ts): a tick every ${timing.tickEveryMs / 1000} s, a ${timing.budgetMs / 1000} s budget and POLL_CONCURRENCY ${timing.concurrency} (read from infra/), a read of due registrations when one the tick polled falls due (rounded up to ${timing.wakeSlotMs} ms) and at least every ${timing.recheckMs / 1000} s for new ones, ${timing.firestoreMs} ms per Firestore round trip, ${timing.latencyMs} ms per \`operations.get\`; a registration no running tick will poll soon wakes a tick ${timing.wakeDelayMs} ms later. Each peer is a loop that polls the moment a poll is due (the first at once), its backoff run by the same \`decide()\`; the scheduler-tick design polls every pending operation on each even minute. Every contender is simulated on its own (its own learned durations, its own jitter). The delay runs, for every contender alike, from the moment the operation was done to Pub/Sub accepting its notification (a publish is taken as ${timing.publishMs} ms: an assumption, the same for all).`;
}

const TARGET_SHORT = ['polls', 'p50', 'p99'];

/** The tuning and held-out families side by side: opwatch informed against Workflows, and the targets. */
function summaryTable(families: readonly FamilyEvaluation[]): string {
  const pair = (family: FamilyEvaluation, key: FigureKey) =>
    `${formatInterval(row(family, OPWATCH_INFORMED).intervals[key])} / ${formatInterval(row(family, WORKFLOWS).intervals[key])}`;
  return table(
    [
      'family',
      'set',
      'polls/op: opwatch / Workflows',
      'delay p50 (s): opwatch / Workflows',
      'delay p99 (s): opwatch / Workflows',
      'targets (polls, p50, p99)',
    ],
    families.map(family => [
      `[${family.key}](#${family.key})`,
      family.role,
      pair(family, 'pollsMean'),
      pair(family, 'delayP50S'),
      pair(family, 'delayP99S'),
      family.targets.map(t => t.verdict).join(', '),
    ]),
  );
}

/** What the held-out families say about issue 24's targets, and why where one is not met. */
function targetLines(families: readonly FamilyEvaluation[]): string[] {
  const heldOut = families.filter(f => f.role === 'held-out');
  const checks = heldOut.flatMap(f => f.targets.map(t => ({family: f, t})));
  const count = (verdict: TargetCheck['verdict']) =>
    checks.filter(c => c.t.verdict === verdict).length;
  const unmet = checks.filter(c => c.t.verdict !== 'met');
  const explain = ({family, t}: (typeof checks)[number]) =>
    `${family.key}, ${t.text}: opwatch ${formatInterval(t.opwatch)} against a bound of ${formatInterval(t.bound)} — ${
      t.verdict === 'tie'
        ? `the interval of the paired difference (opwatch minus bound, per seed) contains 0: at ${family.seeds.length} seeds it cannot be told apart from the bound either way`
        : 'the whole interval of the paired difference is above 0: not met'
    }.`;
  return [
    `**Targets on the held-out families** (issue 24 item 6: polls/op at most Workflows', delay p50 at most Workflows' + 0.5 s, delay p99 at most 1.5 x Workflows'; judged per seed on the same draws, met when the 95 % interval of opwatch minus the bound lies at or below 0): ${count('met')} met, ${count('not met')} not met, ${count('tie')} ties, of ${checks.length}.`,
    '',
    ...(unmet.length
      ? unmet.map(c => `- ${explain(c)}`)
      : ['- Every target is met on every held-out family.']),
  ];
}

/** One family's table: every contender's figures with their intervals. */
function familyTable(family: FamilyEvaluation): string {
  return table(
    ['policy', 'runtime', ...FIGURES.map(key => HEADERS[key])],
    family.rows.map(({contender, intervals}: SeededRow) => [
      contender.name,
      contender.runtime,
      ...FIGURES.map(key => formatInterval(intervals[key] as Interval)),
    ]),
  );
}

/** opwatch informed against each peer on a family: wins, ties and losses over the figures. */
function versusLine(family: FamilyEvaluation): string {
  const others = family.rows
    .map(r => r.contender)
    .filter(c => c.key !== OPWATCH_INFORMED.key);
  return (
    'opwatch informed against each, over the five figures (a win or a loss only where the intervals do not overlap): ' +
    others
      .map(other => {
        const verdicts = FIGURES.map(key => verdictAgainst(family, other, key));
        const n = (v: string) => verdicts.filter(x => x === v).length;
        return `${other.name} ${n('win')} wins, ${n('tie')} ties, ${n('loss')} losses`;
      })
      .join('; ') +
    '.'
  );
}

/** Section 1. */
export function evaluationSection(
  families: readonly FamilyEvaluation[],
  timing: Timing,
): string {
  const first = families[0];
  return [
    '### 1. The forecaster on tuning and held-out workloads',
    '',
    `Two sets of workload families (bench/families.ts). The **tuning** families are those the forecaster's constants (functions/forecast/constants.ts) were chosen on; the **held-out** families were not used to choose any of them, and the benchmark never changes them. Each family is drawn with ${first.seeds.length} seeds (${first.jobsPerSeed} operations a seed, arriving over the window; the first operations of each kind, or of the service for operations of no kind, are warm-up and left out of every contender's figures alike), and every figure is the mean over the seeds with a 95 % Student t interval (mean ± half-width). ${runtimeModel(timing)}`,
    '',
    summaryTable(families),
    '',
    ...targetLines(families),
    '',
    ...families.flatMap(family => [
      `<a id="${family.key}"></a>**${family.key}** (${family.role}): ${family.description}; ${fmt(family.countedPerSeed)} operations counted per seed.`,
      '',
      familyTable(family),
      '',
      versusLine(family),
      '',
      `Targets: ${family.targets.map((t, i) => `${TARGET_SHORT[i]} ${t.verdict}`).join(', ')}.`,
      '',
    ]),
  ].join('\n');
}
