/**
 * What the CLI prints. Results go to stdout, as text for people or, with `--json`, as JSON for scripts (one
 * document, or one line per notification for `tail`); errors and progress go to stderr, so a script's
 * `$(opwatch ... --json)` holds only the result.
 */
import {ApiError, UnreachableError, type RegistrationView} from './api-client';
import {CliError, EXIT, type ExitCode} from './exit-codes';
import {describeProgress} from './progress';

/** Where and how results and errors are written. */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** Prints a result: `value` as JSON with --json, else `text()`. */
  result(value: unknown, text: () => string): void {
    this.stdout.write(
      this.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`,
    );
  }

  /** Prints one line of a stream (`tail`): compact JSON with --json. */
  line(value: unknown, text: () => string): void {
    this.stdout.write(this.json ? `${JSON.stringify(value)}\n` : `${text()}\n`);
  }

  /** A note for the person at the terminal (never for a script reading stdout). */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** Prints an error and returns the exit code it calls for. */
  error(error: unknown): ExitCode {
    const [code, text, body] = describeError(error);
    if (this.json) this.stderr.write(`${JSON.stringify(body)}\n`);
    else this.stderr.write(`opwatch: ${text}\n`);
    return code;
  }
}

function describeError(error: unknown): [ExitCode, string, object] {
  if (error instanceof ApiError) {
    const {detail, status} = error;
    const fields = (detail.details ?? []).map(
      problem => `\n  ${problem.field}: ${problem.message}`,
    );
    const text = `${status} ${detail.status}: ${detail.message}${fields.join('')}`;
    const unreachable =
      status === 401 || status === 403 || status >= 500
        ? `${text}${status === 401 || status === 403 ? '\n  (invoking opwatch needs roles/run.invoker on the function and an ID token for its URL)' : ''}`
        : undefined;
    return [
      unreachable ? EXIT.unreachable : EXIT.usage,
      unreachable ?? text,
      {error: detail},
    ];
  }
  if (error instanceof UnreachableError) {
    return [
      EXIT.unreachable,
      error.message,
      {error: {status: 'UNREACHABLE', message: error.message}},
    ];
  }
  if (error instanceof CliError) {
    return [
      error.exitCode,
      error.message,
      {error: {status: 'CLI', message: error.message}},
    ];
  }
  const message = (error as Error)?.message ?? String(error);
  return [EXIT.failed, message, {error: {status: 'INTERNAL', message}}];
}

/** One registration, one line: for lists and acknowledgements. */
export function registrationLine(r: RegistrationView): string {
  return `${r.id}  ${r.state.padEnd(10)}  ${r.operationUrl}`;
}

/** One registration in full, for `status`. */
export function registrationDetails(r: RegistrationView): string {
  const rows: [string, string | undefined][] = [
    ['id', r.id],
    ['state', r.state],
    ['operation', r.operationUrl],
    ['topic', r.topic],
    [
      'labels',
      Object.entries(r.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || undefined,
    ],
    ['scopes', r.scopes.join(' ')],
    ['subject', r.subject],
    ['attempts', String(r.attempts)],
    ['created', r.createdAt],
    ['deadline', r.deadline],
    ['last polled', r.lastPolledAt],
    ['next poll', r.nextPollAt],
    ['finished', r.finishedAt],
    ['progress', describeProgressOf(r)],
    ['estimated done', r.estimatedDoneAt],
    ['last error', r.lastError && describePollError(r.lastError)],
    ['operation error', r.lastOperation && operationError(r.lastOperation)],
  ];
  return rows
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => `${key.padEnd(16)}${value}`)
    .join('\n');
}

/** `45% (450/1000 documents)`: opwatch's reading first, then what the operation itself says. */
function describeProgressOf(r: RegistrationView): string | undefined {
  const own = r.lastOperation && describeProgress(r.lastOperation);
  if (r.progressPercent === undefined) return own;
  const percent = `${r.progressPercent}%`;
  return own && own !== percent ? `${percent} (${own})` : percent;
}

/** A poll error, e.g. `http 403: HTTP 403`. */
export function describePollError(e: {
  kind: string;
  status?: number;
  message: string;
}): string {
  return `${e.kind}${e.status ? ` ${e.status}` : ''}: ${e.message}`;
}

/** The error of a finished operation, in either style, as `code N: message`. */
export function operationError(
  operation: Record<string, unknown>,
): string | undefined {
  const error = operation.error as
    | {
        code?: number;
        message?: string;
        errors?: {code?: string; message?: string}[];
      }
    | undefined;
  if (!error) return undefined;
  if (Array.isArray(error.errors)) {
    return error.errors
      .map(e => [e.code, e.message].filter(Boolean).join(': '))
      .join('; ');
  }
  return [error.code !== undefined && `code ${error.code}`, error.message]
    .filter(Boolean)
    .join(': ');
}
