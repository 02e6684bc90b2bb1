/**
 * Whether a 200 answer of `operations.get` is the registered operation, and if not, why. An answer that is not
 * is that registration's poll error, counted like any other and ending `poll_error` (functions/core/policy.ts):
 * taken for "still running", it would hold the watch until it expired, a day later by default.
 *
 * The shape is the Operation's own schema (operationSchema, functions/core/model.ts): an object, `done` a
 * boolean, `error` a google.rpc.Status, `metadata` and `response` objects. On top of it: an operation's error
 * carries its code, the name is the registered one, and nesting stays within protobuf's own limit, which no
 * Google API's answer exceeds (a deeper one could not even be written back as JSON: the stack runs out).
 */
import {
  operationSchema,
  type Operation,
  type Registration,
} from '../core/model';
import type {OperationStyle} from '../core/presets';

/** Protobuf's default recursion limit: no message a Google API encodes is nested deeper. */
export const MAX_ANSWER_DEPTH = 100;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether the JSON `text` nests objects or arrays deeper than `limit`, read from the text before it is parsed: one
 * pass, nothing allocated (a walk over the parsed answer held a stack entry per value, many times the answer's
 * size for `[{},{},…]`), and a deep answer is never parsed at all.
 */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * Whether `answered` names the registered operation: the same name; its last segment (Compute Engine and Cloud SQL
 * answer the short id); or the same but for the project, which some APIs answer by number where it was
 * registered by id.
 */
function sameName(answered: string, registered: string): boolean {
  if (answered === registered) return true;
  if (answered === registered.slice(registered.lastIndexOf('/') + 1))
    return true;
  const project = /^projects\/[^/]+\//;
  return (
    project.test(answered) &&
    project.test(registered) &&
    answered.replace(project, '') === registered.replace(project, '')
  );
}

/**
 * What is wrong with a parsed answer for the registered operation, or undefined when it is that operation (and may
 * be used as an {@link Operation}). Its nesting is checked on its text ({@link nestedDeeperThan}), before it is
 * parsed.
 */
export function answerProblem(
  answer: unknown,
  registered: Pick<Registration, 'style'> & {name: string},
): string | undefined {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer))
    return 'not a JSON object';
  const parsed = operationSchema.safeParse(answer);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    return `${issue.path.join('.')}: ${issue.message}`;
  }
  const {name, done, error} = answer as Operation;
  if (name !== undefined && !sameName(name, registered.name))
    return `names ${JSON.stringify(name.slice(0, 200))}, not the registered operation`;
  if (name === undefined && done === undefined)
    return 'neither the registered name nor a done flag';
  return errorProblem(error, registered.style);
}

/** What is wrong with an operation's `error`: a google.longrunning error says which code it is. */
function errorProblem(
  error: Operation['error'],
  style: OperationStyle,
): string | undefined {
  if (error === undefined || style !== 'longrunning') return undefined;
  return typeof error.code === 'number'
    ? undefined
    : 'error.code: the error names no code';
}
