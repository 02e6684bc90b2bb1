/**
 * CPU time from /proc: the whole machine's, and that of given processes, to tell what a stage was limited by.
 */
import {readdirSync, readFileSync} from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const HZ = 100;

interface Sample {
  at: number;
  machineBusy: number;
  machineTotal: number;
  processes: Map<number, number>;
}

/** CPU use between two samples: the machine's busy share of all cores, and cores each process used. */
export interface CpuUse {
  /** 0 to 100: the share of all cores' time that was busy (everything on the machine, other users too). */
  machineBusyPct: number;
  /** Cores used, 1.0 = one core fully busy. */
  cores: Record<string, number>;
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}

function sample(pids: ReadonlyMap<string, number>): Sample {
  const [, ...times] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .map(Number);
  const idle = times[3] + times[4]; // idle + iowait
  const total = times.reduce((sum, t) => sum + t, 0);
  return {
    at: Date.now(),
    machineBusy: total - idle,
    machineTotal: total,
    processes: new Map([...pids.values()].map(pid => [pid, processTicks(pid)])),
  };
}

/** Starts measuring; the returned function ends the measurement. `pids` maps a label to a process id. */
export function measureCpu(pids: ReadonlyMap<string, number>): () => CpuUse {
  const start = sample(pids);
  return () => {
    const end = sample(pids);
    const seconds = (end.at - start.at) / 1000;
    const cores: Record<string, number> = {};
    for (const [label, pid] of pids) {
      const ticks =
        (end.processes.get(pid) ?? 0) - (start.processes.get(pid) ?? 0);
      cores[label] = ticks / HZ / seconds;
    }
    const busy = end.machineBusy - start.machineBusy;
    const total = end.machineTotal - start.machineTotal;
    return {machineBusyPct: (100 * busy) / Math.max(1, total), cores};
  };
}

/** The pid of a process run by a command ending in `command` with `argument` on its command line. */
export function findPid(command: string, argument: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0].endsWith(command) && args.includes(argument))
        return Number(entry);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}
