/**
 * opwatch as the Terraform module deploys it, read from infra/ (variables.tf defaults, the functions' service
 * config in functions.tf) with @cdktf/hcl2json, so the benchmark runs what a deployment runs and no number is
 * copied by hand.
 */
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join, resolve} from 'node:path';

/** Loaded untyped: the package's declarations pull in the DOM library (see test/infra/terraform-config.ts). */
const hcl2json = createRequire(__filename)('@cdktf/hcl2json') as {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
};

/** dist/bench/ -> infra/. */
const INFRA = resolve(__dirname, '..', '..', 'infra');

/** What the benchmark takes from the deployment. */
export interface Deployment {
  /** POLL_CONCURRENCY. */
  concurrency: number;
  /** POLL_BUDGET_SECONDS. */
  budgetSeconds: number;
  /** Cloud Scheduler's period, from the cron schedule (every minute, or every N minutes). */
  periodSeconds: number;
  /** The poll function's instance. */
  pollMemoryMiB: number;
  pollCpu: number;
  /** The registration function's instance (its CPU follows its memory, as Cloud Run functions set it). */
  registrationMemoryMiB: number;
  /** Where each figure came from, for the report. */
  source: string;
}

type Block = Record<string, unknown>;
const first = (value: unknown): Block =>
  (Array.isArray(value) ? value[0] : value) as Block;

async function parse(file: string): Promise<Block> {
  return hcl2json.parse(file, readFileSync(join(INFRA, file), 'utf8'));
}

/** A Cloud Functions memory size ("512M", "1Gi") in MiB. */
export function memoryMiB(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(M|Mi|G|Gi)$/.exec(text);
  if (!match) throw new Error(`unreadable memory size ${text}`);
  return Number(match[1]) * (match[2].startsWith('G') ? 1024 : 1);
}

/** The period of a cron schedule that runs every minute or every N minutes, in seconds. */
export function cronPeriodSeconds(schedule: string): number {
  const [minute, ...rest] = schedule.trim().split(/\s+/);
  if (rest.join(' ') !== '* * * *')
    throw new Error(`not an every-N-minutes schedule: ${schedule}`);
  if (minute === '*') return 60;
  const every = /^\*\/(\d+)$/.exec(minute);
  if (!every) throw new Error(`not an every-N-minutes schedule: ${schedule}`);
  return Number(every[1]) * 60;
}

/** The deployment's defaults, read from infra/. */
export async function loadDeployment(): Promise<Deployment> {
  const variables = first((await parse('variables.tf')).variable) as Record<
    string,
    unknown
  >;
  const byDefault = (name: string) => first(variables[name]).default;
  const functions = first(
    first((await parse('functions.tf')).resource)
      .google_cloudfunctions2_function,
  ) as Record<string, unknown>;
  const service = (name: string) =>
    first(first(functions[name]).service_config);
  // A setting may be a variable's ("${var.poll_memory_mb}M"): its default is what a deployment gets.
  const setting = (value: unknown) =>
    String(value).replace(/\$\{var\.(\w+)\}/g, (_, name: string) =>
      String(byDefault(name)),
    );
  const poll = service('poll');
  return {
    concurrency: Number(byDefault('poll_concurrency')),
    budgetSeconds: Number(byDefault('poll_budget_seconds')),
    periodSeconds: cronPeriodSeconds(String(byDefault('poll_schedule'))),
    pollMemoryMiB: memoryMiB(setting(poll.available_memory)),
    pollCpu: Number(setting(poll.available_cpu)),
    registrationMemoryMiB: memoryMiB(
      setting(service('operations').available_memory),
    ),
    source:
      'infra/variables.tf defaults (poll_concurrency, poll_budget_seconds, poll_schedule, poll_memory_mb) and infra/functions.tf (available_memory, available_cpu)',
  };
}
