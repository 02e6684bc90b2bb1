/**
 * Where a process's CPU time went, from the V8 profiles `node --cpu-prof` writes at exit (one per thread): self
 * time by package (or by opwatch file), and the hottest functions. The benchmark profiles the poll process's tick
 * with it.
 */
import {readFileSync, readdirSync} from 'node:fs';
import {join} from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: {functionName: string; url: string; lineNumber: number};
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A share of the profiled CPU time. */
export interface ProfileEntry {
  where: string;
  ms: number;
  /** 0 to 100, of the busy (non-idle) time. */
  pct: number;
}

/** A profile summed up. */
export interface ProfileSummary {
  /** CPU time sampled, idle excluded. */
  busyMs: number;
  byPackage: ProfileEntry[];
  byFunction: ProfileEntry[];
}

/** The package a script belongs to, `node:` internals, or the opwatch file. */
function owner(url: string, functionName: string): string {
  if (!url) return functionName || '(anonymous)';
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1];
  if (url.startsWith('node:'))
    return url.replace(/^node:internal\/(deps\/)?/, 'node:');
  const own = /\/(functions|build\/function-source)\/(.+)$/.exec(url);
  return own ? `opwatch ${own[2]}` : url;
}

function top(totals: Map<string, number>, busyMs: number, count: number) {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([where, ms]) => ({where, ms, pct: (100 * ms) / busyMs}));
}

/**
 * Sums up the `.cpuprofile`s in `dir`, one per thread of the process (the poll function works on a worker thread
 * of its own, functions/polling/tick-thread.ts), or undefined when there is none.
 */
export function summariseProfile(
  dir: string,
  count = 12,
): ProfileSummary | undefined {
  const files = readdirSync(dir).filter(name => name.endsWith('.cpuprofile'));
  if (files.length === 0) return undefined;
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  let busyMs = 0;
  for (const file of files) {
    const profile = JSON.parse(
      readFileSync(join(dir, file), 'utf8'),
    ) as CpuProfile;
    const nodes = new Map(profile.nodes.map(node => [node.id, node]));
    profile.samples.forEach((id, i) => {
      const {functionName, url, lineNumber} = nodes.get(id)!.callFrame;
      if (functionName === '(idle)') return;
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      busyMs += ms;
      const pkg = owner(url, functionName);
      packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
      const name = `${functionName || '(anonymous)'} (${pkg}${url ? `:${lineNumber + 1}` : ''})`;
      functions.set(name, (functions.get(name) ?? 0) + ms);
    });
  }
  return {
    busyMs,
    byPackage: top(packages, busyMs, count),
    byFunction: top(functions, busyMs, count),
  };
}
