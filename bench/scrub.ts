/**
 * `npm run bench:scrub`: how long the log scrubber (`redact`, functions/platform/log.ts) takes on an 80 KB line,
 * ordinary and crafted to make a backtracking pattern rescan, and how long a topic glob takes on the longest
 * topic name. docs/reliability.md quotes its output. Each figure is the median and the slowest of 50 runs,
 * after 5 unmeasured ones.
 */
import {performance} from 'node:perf_hooks';
import {globMatches} from '../functions/core/allowlists';
import {redact} from '../functions/platform/log';

const LINE_BYTES = 80 * 1024;
const RUNS = 50;
const WARM_UP = 5;

/** 80 KB lines: a busy log line, and texts that made a pattern rescan the rest of a run from each start. */
const LINES: Record<string, string> = {
  'ordinary JSON log line': JSON.stringify({
    severity: 'INFO',
    message: 'tick',
    body: 'projects/p/databases/(default)/operations/ABC '.repeat(
      LINE_BYTES / 46,
    ),
  }),
  'eyJ-eyJ-… (the JWT pattern)': 'eyJ-'.repeat(LINE_BYTES / 4),
  'eyJ.x-eyJx… (the JWT pattern)': 'eyJ.' + 'x-eyJx'.repeat(LINE_BYTES / 6),
  'Bearer followed by tabs': ('Bearer' + '\t'.repeat(26)).repeat(
    LINE_BYTES / 32,
  ),
  '1//a-… (refresh-token pattern)': '1//a-'.repeat(LINE_BYTES / 5),
};

function time(work: () => unknown): {medianMs: number; maxMs: number} {
  for (let i = 0; i < WARM_UP; i++) work();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const began = performance.now();
    work();
    times.push(performance.now() - began);
  }
  times.sort((a, b) => a - b);
  return {medianMs: times[RUNS / 2], maxMs: times[RUNS - 1]};
}

function row(what: string, {medianMs, maxMs}: ReturnType<typeof time>) {
  return `| ${what} | ${medianMs.toFixed(2)} | ${maxMs.toFixed(2)} |`;
}

function main(): void {
  const lines = [
    `Node.js ${process.version}, ${RUNS} runs each`,
    '',
    '| Work | Median ms | Slowest ms |',
    '| --- | --- | --- |',
  ];
  for (const [what, text] of Object.entries(LINES))
    lines.push(
      row(
        `redact, 80 KB: ${what}`,
        time(() => redact(text)),
      ),
    );
  const glob = `projects/p/topics/${'*a'.repeat(6)}*b`;
  const topic = `projects/p/topics/${'a'.repeat(255)}`;
  lines.push(
    row(
      `globMatches, \`${glob}\` against a 255-character topic id`,
      time(() => globMatches(glob, topic)),
    ),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
