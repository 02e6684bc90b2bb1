/**
 * Structured logs: one JSON line per entry, in the shape Cloud Logging reads from a function's stdout
 * (`severity`, `message`, and `logging.googleapis.com/trace` to join a request's entries to its trace).
 *
 * opwatch never logs a token on purpose; as a second line of defence every entry is scrubbed of anything shaped
 * like an OAuth access token, a JWT or a bearer credential before it is written.
 */

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

/** Fields added to a log entry. */
export type LogFields = Record<string, unknown>;

/** Writes structured log entries. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry. */
  child(fields: LogFields): Logger;
}

/**
 * What a credential looks like. Each pattern runs in time linear in the text (bench/scrub.ts times an 80 KB
 * line; test/functions/platform/log.test.ts holds the growth): a match that fails scans only the run of
 * characters up to the next place a match could start. The JWT's header stops before a `-eyJ` for that reason:
 * with `[\w-]*` there, every `-eyJ` of a long run started a scan to the run's end (an 80 KB `eyJ-eyJ-…` line
 * took 1.4 s). A header holding `-eyJ` keeps its part before it, which is no secret (a header is base64 of
 * `{"alg": …}`); the payload and the signature still go.
 */
const SECRETS: RegExp[] = [
  /\bBearer\s+[\w\-.~+/]+=*/gi,
  /\bya29\.[\w\-.]+/g,
  /\beyJ(?:\w|-(?!eyJ))*\.[\w-]+\.[\w-]*/g,
  /\b1\/\/[\w-]{20,}/g,
];

/** Replaces anything shaped like a credential with `[redacted]`, in time linear in the text. */
export function redact(text: string): string {
  return SECRETS.reduce(
    (scrubbed, pattern) => scrubbed.replace(pattern, '[redacted]'),
    text,
  );
}

/** The field of a structured log line that Cloud Logging reads as the entry's trace. */
export const TRACE_FIELD = 'logging.googleapis.com/trace';

/** `log`, with its entries joined to `trace` (`projects/P/traces/T`) when there is one. */
export function withTrace(log: Logger, trace: string | undefined): Logger {
  return trace ? log.child({[TRACE_FIELD]: trace}) : log;
}

/**
 * The Cloud Logging trace fields for a request's `X-Cloud-Trace-Context` (`TRACE_ID/SPAN_ID;o=1`) or W3C
 * `traceparent` header; empty when there is none.
 */
export function traceFields(
  headers: Record<string, string | string[] | undefined>,
  projectId: string,
): LogFields {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const cloud = /^([0-9a-f]{32})(?:\/(\d+))?/i.exec(
    header('x-cloud-trace-context') ?? '',
  );
  const w3c = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-/i.exec(
    header('traceparent') ?? '',
  );
  const traceId = cloud?.[1] ?? w3c?.[1];
  if (!traceId) return {};
  const spanId = cloud?.[2] ?? w3c?.[2];
  return {
    [TRACE_FIELD]: `projects/${projectId}/traces/${traceId.toLowerCase()}`,
    ...(spanId && {'logging.googleapis.com/spanId': spanId}),
  };
}

/** A logger writing JSON lines through `write` (standard output by default). */
export function createLogger(
  write: (line: string) => void = line => process.stdout.write(`${line}\n`),
  base: LogFields = {},
): Logger {
  const entry =
    (severity: Severity) =>
    (message: string, fields: LogFields = {}) => {
      let line: string;
      try {
        line = JSON.stringify({severity, message, ...base, ...fields});
      } catch {
        line = JSON.stringify({severity, message, ...base});
      }
      write(redact(line));
    };
  return {
    debug: entry('DEBUG'),
    info: entry('INFO'),
    warn: entry('WARNING'),
    error: entry('ERROR'),
    child: fields => createLogger(write, {...base, ...fields}),
  };
}

/**
 * Lets one entry a key through per interval and counts the ones it holds back, so a failure met on every retry
 * (a topic Pub/Sub keeps refusing) logs a line a minute with a count, not a line per retry forever.
 */
export class LogThrottle {
  private readonly keys = new Map<string, {at: number; held: number}>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether to write this key's entry now.
   * @returns the entries held back since the last one written, or undefined when this one is held back too.
   */
  pass(key: string): number | undefined {
    const now = this.now();
    const last = this.keys.get(key);
    if (last && now - last.at < this.intervalMs) {
      last.held++;
      return undefined;
    }
    this.keys.set(key, {at: now, held: 0});
    return last?.held ?? 0;
  }
}
