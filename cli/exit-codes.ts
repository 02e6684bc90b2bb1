/**
 * The exit codes of `opwatch`, stable for scripts: `wait` exits with the outcome of the operation, as a drop-in
 * for `gcloud ... operations wait`; every command uses 2 for a request opwatch refused and 7 when opwatch could
 * not be reached.
 */
import {STATES, type State} from '../functions/core/model';

/** Exit code by outcome or failure. */
export const EXIT = {
  /** The operation succeeded; for commands other than `wait`, the command did what it was asked. */
  succeeded: 0,
  /** The operation finished with an error (or the CLI met an unexpected error). */
  failed: 1,
  /** Bad command line, or the API refused the request (4xx: invalid registration, unknown id). */
  usage: 2,
  /** The registration's timeout passed before the operation finished. */
  expired: 3,
  /** The operation could not be found (the service answered 404 several times). */
  not_found: 4,
  /** Polling kept failing with a permanent error (permissions, scopes, a bad subject...). */
  poll_error: 5,
  /** The registration was cancelled. */
  cancelled: 6,
  /** opwatch could not be reached, refused the caller's credentials (401/403) or is unavailable (5xx). */
  unreachable: 7,
  /** The watch ended, but Pub/Sub refused its notification past the deadline and the publish grace. */
  undeliverable: 8,
  /** Interrupted (Ctrl-C or SIGTERM), after deleting any temporary subscription. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code for a registration's final state (a state with no code of its own, as `pending`, is 1). */
export function exitCodeFor(state: string): ExitCode {
  const final = STATES.find(known => known === state && known in EXIT) as
    Exclude<State, 'pending'> | undefined;
  return final ? EXIT[final] : EXIT.failed;
}

/** An error that ends the CLI with a given exit code and a message for stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
