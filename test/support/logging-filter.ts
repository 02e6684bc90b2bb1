/**
 * The part of Cloud Logging's query language that infra/monitoring.tf's filters use, evaluated against log entries,
 * so a test can hold each log-based metric to the lines the functions really write. It is deliberately small: a
 * filter outside this subset throws, naming what it could not read, rather than being guessed at.
 *
 *   filter     := or
 *   or         := and ("OR" and)*
 *   and        := unary ("AND"? unary)*          (juxtaposition is AND, as in Cloud Logging)
 *   unary      := ("NOT" | "-") unary | "(" or ")" | comparison
 *   comparison := path op (value | "(" value ("OR" value)* ")")
 *   op         := = | != | > | >= | < | <= | :
 *   value      := "quoted" | number | word | *
 *
 * Also: a structured log line as Cloud Logging turns it into an entry, and EXTRACT(path) of the extractors.
 */

/** A log entry, as far as the filters read it. */
export interface LogEntry {
  resource: {type: string; labels: Record<string, string>};
  severity: string;
  trace?: string;
  jsonPayload: Record<string, unknown>;
}

/** A parsed filter: whether an entry matches, and every field path it names. */
export interface LoggingFilter {
  matches(entry: LogEntry): boolean;
  fields: string[];
}

const SEVERITIES = [
  'DEFAULT',
  'DEBUG',
  'INFO',
  'NOTICE',
  'WARNING',
  'ERROR',
  'CRITICAL',
  'ALERT',
  'EMERGENCY',
];

/** The fields of a JSON line Cloud Logging takes out of jsonPayload into the entry itself. */
const SPECIAL = [
  'severity',
  'logging.googleapis.com/trace',
  'logging.googleapis.com/spanId',
];

/** A function's JSON log line as the entry Cloud Logging makes of it, on Cloud Run service `service`. */
export function entryOf(
  line: Record<string, unknown>,
  service: string,
): LogEntry {
  const jsonPayload = Object.fromEntries(
    Object.entries(line).filter(([key]) => !SPECIAL.includes(key)),
  );
  return {
    resource: {type: 'cloud_run_revision', labels: {service_name: service}},
    severity: String(line.severity ?? 'DEFAULT'),
    trace: line['logging.googleapis.com/trace'] as string | undefined,
    jsonPayload,
  };
}

/** The value at a dotted path of an entry, or undefined. */
export function valueAt(entry: LogEntry, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (value, key) =>
        value !== null && typeof value === 'object'
          ? (value as Record<string, unknown>)[key]
          : undefined,
      entry,
    );
}

/** The path of an extractor, `EXTRACT(path)`; throws on any other form. */
export function extractedPath(extractor: string): string {
  const match = /^EXTRACT\(([\w.@]+)\)$/.exec(extractor.trim());
  if (!match) throw new Error(`unsupported extractor: ${extractor}`);
  return match[1];
}

const TOKEN =
  /\s*(?:("(?:[^"\\]|\\.)*")|(>=|<=|!=|[=<>:()*-])|([A-Za-z_@][\w.@/-]*|-?\d+(?:\.\d+)?))/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.trimEnd().length) {
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (!match) throw new Error(`cannot read the filter at: ${text.slice(at)}`);
    tokens.push(match[1] ?? match[2] ?? match[3]);
  }
  return tokens;
}

type Test = (entry: LogEntry) => boolean;
const OPS = ['=', '!=', '>', '>=', '<', '<=', ':'];

function compare(
  actual: unknown,
  op: string,
  literal: string,
  path: string,
): boolean {
  if (actual === undefined || actual === null) return false;
  if (op === ':') return literal === '*' || String(actual).includes(literal);
  const rank = (s: string) => SEVERITIES.indexOf(s.toUpperCase());
  const [a, b] =
    path === 'severity'
      ? [rank(String(actual)), rank(literal)]
      : typeof actual === 'number' && literal !== '' && !isNaN(Number(literal))
        ? [actual, Number(literal)]
        : [String(actual), literal];
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    default:
      return a <= b;
  }
}

/** Parses `text`; throws on anything outside the subset above. */
export function parseFilter(text: string): LoggingFilter {
  const tokens = tokenize(text);
  const fields: string[] = [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const token = tokens[i++];
    if (token === undefined || (expected !== undefined && token !== expected))
      throw new Error(`expected ${expected ?? 'more'} in filter: ${text}`);
    return token;
  };
  const literal = () => {
    const token = take();
    return token.startsWith('"') ? (JSON.parse(token) as string) : token;
  };
  const comparison = (): Test => {
    const path = take();
    if (!/^[A-Za-z_@][\w.@/-]*$/.test(path))
      throw new Error(`expected a field, got ${path} in: ${text}`);
    fields.push(path);
    const op = take();
    if (!OPS.includes(op))
      throw new Error(`unsupported operator ${op} in: ${text}`);
    const values = [literal()];
    if (values[0] === '(') {
      values.pop();
      do {
        values.push(literal());
      } while (peek() === 'OR' && take());
      take(')');
    }
    return entry =>
      values.some(v => compare(valueAt(entry, path), op, v, path));
  };
  const unary = (): Test => {
    if (peek() === 'NOT' || peek() === '-') {
      take();
      const inner = unary();
      return entry => !inner(entry);
    }
    if (peek() === '(') {
      take();
      const inner = or();
      take(')');
      return inner;
    }
    return comparison();
  };
  const and = (): Test => {
    const terms = [unary()];
    while (peek() !== undefined && peek() !== 'OR' && peek() !== ')') {
      if (peek() === 'AND') take();
      terms.push(unary());
    }
    return entry => terms.every(term => term(entry));
  };
  const or = (): Test => {
    const terms = [and()];
    while (peek() === 'OR') {
      take();
      terms.push(and());
    }
    return entry => terms.some(term => term(entry));
  };
  const test = or();
  if (i !== tokens.length)
    throw new Error(`unread filter text: ${tokens.slice(i).join(' ')}`);
  return {matches: test, fields};
}
