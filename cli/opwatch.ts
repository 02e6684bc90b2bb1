#!/usr/bin/env node
/**
 * `opwatch`: the command line of the registration API, and `wait`, a drop-in for `gcloud ... operations wait`
 * that exits with the operation's outcome. See docs/cli.md.
 *
 * Global options (`--endpoint`, `--json`) are accepted before or after the command: they are declared on the
 * program and on each command, with positional options, so that a command's own `--version` (the API version of
 * `register`) is not taken for the program's.
 */
import {Command, CommanderError, InvalidArgumentError, Option} from 'commander';
import {existsSync, readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {STATES} from '../functions/core/model';
import {WATCH_STATES} from '../functions/core/watch';
import * as commands from './commands';
import {
  cancelWatch,
  createWatch,
  listWatches,
  type WatchFlags,
} from './watch-commands';
import {EXIT} from './exit-codes';
import {Output} from './output';

/** The package version, from the nearest package.json (dist/cli/ when built, cli/ under ts-jest). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file))
      return (JSON.parse(readFileSync(file, 'utf8')) as {version: string})
        .version;
  }
  return 'unknown';
}

const positiveInteger = (flag: string) => (text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError(`${flag} must be a positive integer`);
  return value;
};

const positiveNumber = (text: string) => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError('must be a positive number of seconds');
  return value;
};

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  value,
];

function withGlobals(command: Command): Command {
  return command
    .addOption(
      new Option('--endpoint <url>', 'the operations function URL').env(
        'OPWATCH_ENDPOINT',
      ),
    )
    .option('--json', 'print results as JSON');
}

function withRegistration(command: Command): Command {
  return command
    .option('--service <host>', 'API host, e.g. firestore.googleapis.com')
    .option(
      '--name <name>',
      'operation name, e.g. projects/P/databases/D/operations/X',
    )
    .option(
      '--version <version>',
      'API version with --service (default: the service preset)',
    )
    .option(
      '--topic <topic>',
      'topic id or projects/P/topics/T (default: the deployment default)',
    )
    .option('--label <key=value>', 'a label; repeat for more', collect)
    .option(
      '--timeout <duration>',
      'give up after, e.g. 3600s, 90m, 2h, 1d (default 7d)',
    )
    .option(
      '--scope <scope>',
      'an OAuth scope for the poller; repeat for more',
      collect,
    )
    .option(
      '--subject <email>',
      'a user to act as (Workspace domain-wide delegation)',
    );
}

/**
 * A global option's value for `command`: given on the command line (before or after the command name) wins over
 * the environment. (Commander's optsWithGlobals lets the program's value win, even one from OPWATCH_ENDPOINT over
 * the command's --endpoint.)
 */
function globalOption(command: Command, key: string): unknown {
  const chain = [command, ...(command.parent ? [command.parent] : [])];
  const chosen =
    chain.find(c => c.getOptionValueSource(key) === 'cli') ??
    chain.find(c => c.getOptionValue(key) !== undefined);
  return chosen?.getOptionValue(key);
}

/** Runs an action with the context of its command, setting the exit code from its result or error. */
function action<A extends unknown[]>(
  run: (ctx: commands.Context, ...args: A) => Promise<number>,
) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const ctx = commands.createContext({
      endpoint: globalOption(command, 'endpoint') as string | undefined,
      json: globalOption(command, 'json') as boolean | undefined,
    });
    try {
      process.exitCode = await run(ctx, ...(args.slice(0, -1) as A));
    } catch (error) {
      process.exitCode = ctx.output.error(error);
    }
  };
}

/** The program. */
export function buildProgram(): Command {
  const program = withGlobals(new Command('opwatch'))
    .description(
      'Register Google Cloud long-running operations with opwatch and wait for their outcome.',
    )
    .version(packageVersion())
    .enablePositionalOptions()
    .showHelpAfterError('(run opwatch help for usage)')
    .exitOverride();
  // In this order: the help lists the commands as they are added.
  addRegistrationCommands(program);
  addWaitCommand(program);
  addTailCommand(program);
  addWatchCommand(program);
  return program;
}

/** `watch create|list|cancel`: watches of a parent, every operation under it. */
function addWatchCommand(program: Command): void {
  const watch = program
    .command('watch')
    .description('watch every operation under a parent (create, list, cancel)');
  withGlobals(watch.command('create'))
    .description('watch a parent: each operation under it is notified once')
    .requiredOption(
      '--service <host>',
      'API host, e.g. firestore.googleapis.com',
    )
    .requiredOption('--parent <parent>', 'e.g. projects/P/databases/(default)')
    .option('--version <version>', 'API version (default: the service preset)')
    .option('--filter <filter>', "passed through as ListOperations' filter")
    .option('--topic <topic>', 'topic id or projects/P/topics/T')
    .option('--label <key=value>', 'a label; repeat for more', collect)
    .option('--timeout <duration>', 'how long to watch, e.g. 86400s')
    .action(action((ctx, flags: WatchFlags) => createWatch(ctx, flags)));
  withGlobals(watch.command('list'))
    .description('list watches')
    .addOption(
      new Option('--state <state>', 'only this state').choices(WATCH_STATES),
    )
    .option('--all', 'follow nextPageToken to the last page')
    .action(
      action((ctx, flags: {state?: string; all?: boolean}) =>
        listWatches(ctx, flags),
      ),
    );
  withGlobals(watch.command('cancel <id>'))
    .description('stop watching a parent (and its pending operations)')
    .action(action((ctx, id: string) => cancelWatch(ctx, id)));
}

/** `register`, `status`, `list`, `cancel` and `stats`: one call of the registration API each. */
function addRegistrationCommands(program: Command): void {
  withRegistration(withGlobals(program.command('register [url]')))
    .description('register an operation (its URL, or --service and --name)')
    .action(
      action((ctx, url: string | undefined, flags: commands.WaitFlags) =>
        commands.register(ctx, url, flags),
      ),
    );

  withGlobals(program.command('status <id>'))
    .description('show a registration')
    .action(action((ctx, id: string) => commands.status(ctx, id)));

  withGlobals(program.command('list'))
    .description('list registrations, one page (or --all)')
    .addOption(new Option('--state <state>', 'only this state').choices(STATES))
    .option('--tenant <name>', "only this tenant's (an admin's list)")
    .option(
      '--page-size <n>',
      'registrations per page (1-1000)',
      positiveInteger('--page-size'),
    )
    .option('--page-token <token>', 'the page after a previous one')
    .option('--all', 'follow nextPageToken to the last page')
    .action(
      action((ctx, flags: Parameters<typeof commands.list>[1]) =>
        commands.list(ctx, flags),
      ),
    );

  withGlobals(program.command('cancel <id>'))
    .description('stop watching a registration')
    .action(action((ctx, id: string) => commands.cancel(ctx, id)));

  withGlobals(program.command('stats'))
    .description(
      "how the deployment is doing: registrations by state and shard, the oldest overdue, the last hour's " +
        "notifications and lag (ADMIN_PRINCIPALS, or a tenant's admins for their tenant)",
    )
    .option('--tenant <name>', "one tenant's figures")
    .action(
      action((ctx, flags: Parameters<typeof commands.stats>[1]) =>
        commands.stats(ctx, flags),
      ),
    );
}

/** `wait`: register or take a registration, and exit with its outcome. */
function addWaitCommand(program: Command): void {
  withRegistration(withGlobals(program.command('wait [url-or-id]')))
    .description(
      'register an operation (or take a registration id) and wait for its outcome; exits 0 succeeded, 1 failed, ' +
        '3 expired, 4 not_found, 5 poll_error, 6 cancelled, 8 undeliverable',
    )
    .option(
      '--project <project>',
      "project for the temporary subscription (default: the topic's)",
    )
    .option(
      '--no-subscribe',
      'do not use Pub/Sub: poll the registration status only',
    )
    .option(
      '--poll-interval <seconds>',
      'how often to read the status (default 5)',
      positiveNumber,
    )
    .option('--quiet', 'no progress on stderr')
    .action(
      action((ctx, target: string | undefined, flags: commands.WaitFlags) =>
        commands.wait(ctx, target, flags),
      ),
    );
}

/** `tail`: print notifications as they arrive. */
function addTailCommand(program: Command): void {
  withGlobals(program.command('tail'))
    .description('print notifications as they arrive (Ctrl-C stops)')
    .option(
      '--subscription <subscription>',
      'an existing subscription (default: a temporary one)',
    )
    .option(
      '--topic <topic>',
      'topic for the temporary subscription (default opwatch-notifications)',
    )
    .option(
      '--project <project>',
      'project of the subscription and of a short topic id',
    )
    .option(
      '--count <n>',
      'stop after n notifications',
      positiveInteger('--count'),
    )
    .action(
      action((ctx, flags: Parameters<typeof commands.tailCommand>[1]) =>
        commands.tailCommand(ctx, flags),
      ),
    );
}

/** Parses `argv` and runs the command; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help); only the code is left to choose.
      return error.exitCode === 0 ? EXIT.succeeded : EXIT.usage;
    }
    return new Output(false).error(error);
  }
  return Number(process.exitCode ?? EXIT.succeeded);
}

if (require.main === module) {
  // Exit explicitly: a client library may keep a handle open after the work is done.
  void main(process.argv).then(code => process.exit(code));
}
