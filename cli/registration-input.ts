/**
 * The registration body from the command line of `register` and `wait`: an operation URL, or `--service` and
 * `--name`, plus what to report and how. The API validates everything again; this only catches what the command
 * line itself gets wrong, with the flag's name in the message.
 */
import {CliError, EXIT} from './exit-codes';

/** The registration flags shared by `register` and `wait`. */
export interface RegistrationFlags {
  service?: string;
  name?: string;
  /** The API version path (`--version`), with `--service` and `--name`. */
  version?: string;
  topic?: string;
  label?: string[];
  timeout?: string;
  scope?: string[];
  subject?: string;
}

const UNITS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400};

/** Reads `3600s`, `90m`, `2h`, `1d` or a bare number of seconds as a google.protobuf.Duration string. */
export function parseTimeout(text: string): string {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!match) {
    throw new CliError(
      `--timeout: "${text}" is not a duration such as 3600s, 90m, 2h or 1d`,
      EXIT.usage,
    );
  }
  const seconds = Number(match[1]) * UNITS[match[2] || 's'];
  return `${Number(seconds.toFixed(3))}s`;
}

/** Reads `key=value` labels; a key may not repeat. */
export function parseLabels(pairs: string[] = []): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw new CliError(`--label: "${pair}" is not key=value`, EXIT.usage);
    const key = pair.slice(0, at);
    if (key in labels)
      throw new CliError(`--label: "${key}" given twice`, EXIT.usage);
    labels[key] = pair.slice(at + 1);
  }
  return labels;
}

/** Builds the POST /operations body. */
export function registrationBody(
  url: string | undefined,
  flags: RegistrationFlags,
): Record<string, unknown> {
  const byName = flags.service !== undefined || flags.name !== undefined;
  if (url !== undefined && byName) {
    throw new CliError(
      'give an operation URL, or --service and --name, not both',
      EXIT.usage,
    );
  }
  if (url === undefined && (!flags.service || !flags.name)) {
    throw new CliError(
      'give an operation URL (https://SERVICE/VERSION/NAME), or --service and --name',
      EXIT.usage,
    );
  }
  if (url !== undefined && flags.version !== undefined) {
    throw new CliError(
      '--version goes with --service and --name; the URL has its version',
      EXIT.usage,
    );
  }
  const labels = parseLabels(flags.label);
  return {
    ...(url !== undefined
      ? {operation: url}
      : {service: flags.service, name: flags.name}),
    ...(flags.version !== undefined && {version: flags.version}),
    ...(flags.topic !== undefined && {topic: flags.topic}),
    ...(Object.keys(labels).length > 0 && {labels}),
    ...(flags.timeout !== undefined && {timeout: parseTimeout(flags.timeout)}),
    ...(flags.scope?.length && {scopes: flags.scope}),
    ...(flags.subject !== undefined && {subject: flags.subject}),
  };
}
