/**
 * `npm run bench`: opwatch's benchmarks (issues 5 and 24). Starts what it needs (the real Firestore and Pub/Sub
 * emulators, the fake GCE metadata server, the fake operations API), runs the stages (stages.ts), prints progress,
 * and writes docs/benchmarks.md.
 *
 *   npm run bench                       the full run (docs/benchmarks.md says how long it took)
 *   npm run bench -- --quick            everyday use: fewer, smaller stages, written to dist/bench/ instead of docs/
 *   npm run bench -- --stages evaluation --seeds 20    one stage, more seeds
 *
 * Sizes can be set one by one too; see `--help`.
 */
import {execFileSync} from 'node:child_process';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {cpus, totalmem} from 'node:os';
import {dirname} from 'node:path';
import {loadDeployment} from './deployed';
import {startEnv, type BenchEnv} from './env';
import {report} from './report';
import {readOptions, STAGES} from './run-options';
import type {Results} from './results';
import {timingFor} from './simulate';
import {STAGE_RUNNERS, type StageContext} from './stages';

function uptime(): string {
  return execFileSync('uptime', {encoding: 'utf8'}).trim();
}

function machine(loadBefore: string): Results['machine'] {
  const model =
    /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ??
    cpus()[0]?.model ??
    'unknown';
  return {
    cpus: cpus().length,
    model,
    ramGiB: totalmem() / 2 ** 30,
    node: process.version,
    loadBefore,
    loadAfter: uptime(),
  };
}

async function main(): Promise<void> {
  const options = readOptions();
  const startedAt = new Date();
  const loadBefore = uptime();
  const deployment = await loadDeployment();
  const say = (stage: string) => (line: string) =>
    process.stdout.write(
      `[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${stage}: ${line}\n`,
    );
  const results: StageContext['results'] = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: options.quick,
    stages: options.stages,
    startedAt,
    deployment,
    timing: timingFor(deployment),
  };
  const stages = STAGES.filter(stage => options.stages.includes(stage));
  let env: BenchEnv | undefined;
  try {
    for (const stage of stages) {
      const runner = STAGE_RUNNERS[stage];
      if (runner.needsEnv && !env)
        env = await startEnv(results.timing.latencyMs, say('env'));
      const began = Date.now();
      await runner.run({options, results, log: say(stage), env});
      say(stage)(`done in ${((Date.now() - began) / 1000).toFixed(0)} s`);
    }
  } finally {
    await env?.stop();
  }
  const final: Results = {
    ...results,
    machine: machine(loadBefore),
    durationMs: Date.now() - startedAt.getTime(),
  };
  const markdown = report(final);
  mkdirSync(dirname(options.out), {recursive: true});
  writeFileSync(options.out, markdown);
  process.stdout.write(`\n${markdown}\n\nwritten to ${options.out}\n`);
}

main().then(
  () => process.exit(0),
  error => {
    process.stderr.write(`bench failed: ${(error as Error).stack}\n`);
    process.exit(1);
  },
);
