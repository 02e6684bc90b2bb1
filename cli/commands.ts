/**
 * What each `opwatch` command does, given its parsed arguments; cli/opwatch.ts maps the command line onto these.
 * Each returns the exit code (see cli/exit-codes.ts) or throws an error that Output turns into one.
 */
import {OpwatchApi, type RegistrationView} from './api-client';
import {createAuthorizer} from './auth';
import {CliError, EXIT, exitCodeFor} from './exit-codes';
import {
  Output,
  describePollError,
  operationError,
  registrationDetails,
  registrationLine,
} from './output';
import {describeStats} from './stats-output';
import {ProgressReporter, formatElapsed} from './progress';
import {projectFromEnv, pubsubClient} from './pubsub';
import {registrationBody, type RegistrationFlags} from './registration-input';
import {tail} from './tail';
import {waitFor, type WaitResult} from './wait';

/** What every command gets: the global options, resolved. */
export interface Context {
  output: Output;
  /** The API client; throws a usage error when no endpoint was given. */
  api(): OpwatchApi;
  /** Aborts on the first Ctrl-C or SIGTERM (installs the handlers on first use). */
  interruption(): AbortSignal;
}

/** Builds the context from `--endpoint` (or OPWATCH_ENDPOINT) and `--json`. */
export function createContext(globals: {
  endpoint?: string;
  json?: boolean;
}): Context {
  const output = new Output(Boolean(globals.json));
  let api: OpwatchApi | undefined;
  let controller: AbortController | undefined;
  return {
    output,
    api() {
      if (api) return api;
      if (!globals.endpoint) {
        throw new CliError(
          'no endpoint: give --endpoint URL or set OPWATCH_ENDPOINT (http://localhost:8080 for the local stack)',
          EXIT.usage,
        );
      }
      let endpoint: URL;
      try {
        endpoint = new URL(globals.endpoint);
      } catch {
        throw new CliError(
          `--endpoint: "${globals.endpoint}" is not a URL`,
          EXIT.usage,
        );
      }
      api = new OpwatchApi(endpoint, {authorize: createAuthorizer(endpoint)});
      return api;
    },
    interruption() {
      if (!controller) {
        const abort = new AbortController();
        let signals = 0;
        const onSignal = () => {
          // A second Ctrl-C leaves at once, temporary subscriptions or not (they expire by themselves).
          if (signals++ > 0) process.exit(EXIT.interrupted);
          abort.abort();
        };
        process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
        controller = abort;
      }
      return controller.signal;
    },
  };
}

/** `register`. */
export async function register(
  ctx: Context,
  url: string | undefined,
  flags: RegistrationFlags,
): Promise<number> {
  const body = registrationBody(url, flags);
  const {created, registration} = await ctx.api().register(body);
  const what = !created
    ? 'already registered'
    : registration.previous
      ? `registered again (was ${registration.previous.state})`
      : 'registered';
  ctx.output.result(
    registration,
    () => `${what}  ${registrationLine(registration)}`,
  );
  return EXIT.succeeded;
}

/** `status`. */
export async function status(ctx: Context, id: string): Promise<number> {
  const registration = await ctx.api().get(id);
  ctx.output.result(registration, () => registrationDetails(registration));
  return EXIT.succeeded;
}

/** `list`: one page, or with `all` every page, following nextPageToken. */
export async function list(
  ctx: Context,
  options: {
    state?: string;
    tenant?: string;
    pageSize?: number;
    pageToken?: string;
    all?: boolean;
  },
): Promise<number> {
  const api = ctx.api();
  // Only the API's parameters: the flags also hold the global options, which the API would refuse.
  const {all, state, tenant, pageSize, pageToken} = options;
  const query = {state, tenant, pageSize, pageToken};
  let page = await api.list(query);
  const registrations = [...page.registrations];
  while (all && page.nextPageToken) {
    page = await api.list({...query, pageToken: page.nextPageToken});
    registrations.push(...page.registrations);
  }
  const nextPageToken = all ? undefined : page.nextPageToken;
  ctx.output.result({registrations, nextPageToken}, () =>
    registrations.length > 0
      ? registrations.map(registrationLine).join('\n')
      : 'no registrations',
  );
  if (nextPageToken && !ctx.output.json)
    ctx.output.note(`more: --page-token ${nextPageToken} (or --all)`);
  return EXIT.succeeded;
}

/** `cancel`. */
export async function cancel(ctx: Context, id: string): Promise<number> {
  await ctx.api().cancel(id);
  ctx.output.result({id, cancelled: true}, () => `cancelled ${id}`);
  return EXIT.succeeded;
}

/** `stats`. */
export async function stats(
  ctx: Context,
  {tenant}: {tenant?: string},
): Promise<number> {
  const figures = await ctx.api().stats(tenant);
  ctx.output.result(figures, () => describeStats(figures));
  return EXIT.succeeded;
}

/** `wait`'s own flags. */
export interface WaitFlags extends RegistrationFlags {
  project?: string;
  subscribe?: boolean;
  pollInterval?: number;
  quiet?: boolean;
}

const ID = /^[0-9a-f]{32}$/;

/** `wait`: the exit code is the outcome's. */
export async function wait(
  ctx: Context,
  target: string | undefined,
  flags: WaitFlags,
): Promise<number> {
  const byId = target !== undefined && ID.test(target);
  const started = Date.now();
  const progress = new ProgressReporter(process.stderr, !flags.quiet);
  let result: WaitResult;
  try {
    result = await waitFor(
      byId
        ? {kind: 'id', id: target}
        : {kind: 'register', body: registrationBody(target, flags)},
      {
        api: ctx.api(),
        progress,
        pubsub: flags.subscribe === false ? undefined : pubsubClient,
        project: projectFromEnv(flags.project),
        pollIntervalMs: (flags.pollInterval ?? 5) * 1000,
        deadlineGraceMs: 5 * 60_000,
        unreachableLimitMs: 5 * 60_000,
        signal: ctx.interruption(),
      },
    );
  } finally {
    progress.stop();
  }
  const payload = result.notification ?? asNotification(result.registration);
  ctx.output.result(payload, () =>
    describeEnding(payload, Date.now() - started),
  );
  return exitCodeFor(result.outcome);
}

/** `tail`. */
export async function tailCommand(
  ctx: Context,
  flags: {
    subscription?: string;
    topic?: string;
    project?: string;
    count?: number;
  },
): Promise<number> {
  const project = projectFromEnv(flags.project);
  const pubsub = pubsubClient(project);
  try {
    await tail({
      pubsub,
      output: ctx.output,
      subscription: flags.subscription,
      topic: flags.topic,
      project,
      count: flags.count,
      signal: ctx.interruption(),
    });
  } finally {
    await pubsub.close().catch(() => undefined);
  }
  return EXIT.succeeded;
}

/** A registration's end in the shape of a notification (schema Notification), for `wait --json`. */
function asNotification(r: RegistrationView): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify({
      registrationId: r.id,
      outcome: r.state,
      service: r.service,
      operationUrl: r.operationUrl,
      operation: r.lastOperation,
      labels: r.labels,
      registeredAt: r.createdAt,
      finishedAt: r.finishedAt ?? r.updatedAt,
      attempts: r.attempts,
      pollError: r.lastError,
    }),
  );
}

function describeEnding(
  payload: Record<string, unknown>,
  elapsedMs: number,
): string {
  const operation = payload.operation as Record<string, unknown> | undefined;
  const pollError = payload.pollError as
    {kind: string; status?: number; message: string} | undefined;
  const lines = [
    `${payload.outcome}  ${payload.operationUrl}  (${payload.attempts} polls, waited ${formatElapsed(elapsedMs)})`,
  ];
  const error = operation && operationError(operation);
  if (error) lines.push(`  error: ${error}`);
  if (pollError) lines.push(`  last poll: ${describePollError(pollError)}`);
  return lines.join('\n');
}
