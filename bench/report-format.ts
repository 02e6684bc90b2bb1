/**
 * The Markdown pieces every section of docs/benchmarks.md is written with: tables, verdicts and units.
 */
import type {CpuUse} from './cpu';
import {fmt} from './stats';

/** A Markdown table of `rows` under `header`. */
export const table = (header: string[], rows: string[][]) =>
  [header, header.map(() => '---'), ...rows]
    .map(cells => `| ${cells.join(' | ')} |`)
    .join('\n');

/** Whether a target was met, in bold. */
export const verdict = (met: boolean) => (met ? '**met**' : '**not met**');

export const pct = (value: number) => `${fmt(value, 3)} %`;

export const mib = (kb: number) => `${fmt(kb / 1024, 3)} MiB`;

/** The cores each measured process used, and how busy the whole machine was. */
export const cores = (cpu: CpuUse) =>
  Object.entries(cpu.cores)
    .map(([label, used]) => `${label} ${fmt(used, 2)}`)
    .join(', ') + `; machine ${pct(cpu.machineBusyPct)} busy`;
