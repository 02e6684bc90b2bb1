/**
 * Runs a command in a process group of its own and takes the whole group down again.
 *
 * `gcloud emulators ... start` is a Python process that starts a shell script that starts a JVM; signalling only
 * the direct child would leave the JVM running and holding its port. So the command runs detached (it leads a new
 * group) and stopping signals the group. POSIX only, like the emulators' wrappers.
 */
import {spawn} from 'node:child_process';
import {closeSync, openSync, readdirSync, readFileSync} from 'node:fs';

/** How the direct child ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running process group. */
export interface ProcessGroup {
  /** The direct child's pid, which is also the group id. */
  readonly pid: number;
  /** Settles when the direct child has exited; the rest of the group may still be running. */
  readonly exited: Promise<ExitStatus>;
  /** Stops every process in the group: SIGTERM, then SIGKILL after `graceMs`; resolves once all are gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * A watcher that takes the group down if the Node.js process that owns it dies without calling stop() (a crash,
 * Ctrl-C in jest, kill -9), so no JVM outlives its owner and keeps the port. It runs in a session of its own, out
 * of reach of the terminal's Ctrl-C, and ends by itself once the group is gone. (`kill` in dash takes no `--`.)
 */
const WATCHER = `
parent=$1; group=$2
while kill -0 "$parent" 2>/dev/null && kill -0 "-$group" 2>/dev/null; do sleep 1; done
kill -TERM "-$group" 2>/dev/null || exit 0
sleep 5
kill -KILL "-$group" 2>/dev/null
`;

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Pids of the live (not zombie) processes in a group; on systems without /proc, a best guess. */
function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    // No /proc (macOS): kill(0) succeeds as long as any member, zombies included, is left.
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited between the listing and the read
    }
    // The command name may contain spaces and parentheses; the fields after its last ')' are fixed.
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Zombies count as gone: without an init that reaps orphans (containers) they would linger forever.
    if (Number(group) === pgid && state !== 'Z') members.push(Number(entry));
  }
  return members;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

async function waitGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupMembers(pgid).length > 0) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Starts `command` in a new process group, its stdout and stderr appended to `logFile`.
 * @throws when the command cannot be spawned at all.
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  options: {logFile: string; env?: NodeJS.ProcessEnv; cwd?: string},
): ProcessGroup {
  const log = openSync(options.logFile, 'a');
  let child;
  try {
    // detached makes the child a session leader. That matters for gcloud: a gcloud that is not one moves itself
    // to a new process group (googlecloudsdk/command_lib/emulators/util.py), out of reach of a group signal.
    child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
  const exited = new Promise<ExitStatus>(resolve => {
    child.once('exit', (code, signal) => resolve({code, signal}));
    child.once('error', () => resolve({code: null, signal: null}));
  });
  // A detached child must not keep the event loop (jest, the local stack) alive on its own.
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  const watcher = spawn(
    '/bin/sh',
    ['-c', WATCHER, 'opwatch-watcher', String(process.pid), String(pid)],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  watcher.unref();

  return {
    pid,
    exited,
    async stop(graceMs = 5000) {
      if (watcher.pid !== undefined && watcher.exitCode === null)
        watcher.kill('SIGKILL');
      signalGroup(pid, 'SIGTERM');
      if (await waitGone(pid, graceMs)) return;
      signalGroup(pid, 'SIGKILL');
      if (!(await waitGone(pid, 5000))) {
        throw new Error(
          `process group ${pid} (${command}) survived SIGKILL: ${groupMembers(pid).join(', ')}`,
        );
      }
    },
  };
}
