/**
 * The operator's allowlists: which projects, services, topics and Workspace users a registration may name.
 *
 * The poller holds read rights on every watched project and publishes wherever a registration points, so whoever
 * may register borrows those rights. These lists bound what a caller can borrow. They are checked when a
 * registration arrives (403) and again before every poll, so narrowing them also ends watches stored earlier.
 */
import {SERVICE_PRESETS, hostMatches} from './presets';
import type {NewRegistration} from './model';

/** The parsed allowlists. */
export interface Allowlists {
  /** Project ids whose operations may be watched; `*` allows any. */
  projects: ReadonlySet<string>;
  /** Hosts that may be watched; `*` in the first label stands for a region, as in the presets. */
  services: readonly string[];
  /** Topic globs: `*` matches within one path segment. */
  topics: readonly string[];
  /** E-mail addresses, or `@domain` for a whole domain, that `subject` may name. */
  subjects: readonly string[];
  /**
   * opwatch's own topics (POLL_FANOUT_TOPIC, DEAD_LETTER_TOPIC, COMPLETION_EVENTS_TOPIC), full names: never a
   * notification's topic, whatever the globs say, or a caller could feed the poller's fan-out, forge completion
   * events or fill the dead-letter topic.
   */
  reservedTopics?: ReadonlySet<string>;
}

/** A registration field that names something the allowlists do not allow (`tenant`: the caller's tenant itself). */
export interface Refusal {
  field: 'operation' | 'topic' | 'subject' | 'tenant';
  message: string;
}

/** What a refusal calls each list: by default the variable that sets it; a tenant's own lists are named so too. */
export interface ListNames {
  projects: string;
  services: string;
  topics: string;
  subjects: string;
}

/** The global lists' names: their variables. */
export const VARIABLE_NAMES: ListNames = {
  projects: 'WATCH_PROJECTS',
  services: 'WATCH_SERVICES',
  topics: 'ALLOWED_TOPICS',
  subjects: 'DELEGATION_SUBJECTS',
};

/**
 * Google API hosts that serve anyone's content: Cloud Storage's JSON and XML hosts (and its legacy and Firebase
 * ones), each with its bucket subdomains. A path on them can name an object that merely looks like an operation,
 * which the poller's token may read; so `*` never allows them, only an entry that names them does.
 */
const USER_CONTENT_HOSTS = [
  'storage.googleapis.com',
  'commondatastorage.googleapis.com',
  'firebasestorage.googleapis.com',
];

/** True when `host` (or the hosts of a `*.` pattern) serves user content. */
export function servesUserContent(host: string): boolean {
  const named = host.replace(/^\*/, 'x');
  return USER_CONTENT_HOSTS.some(
    base => named === base || named.endsWith(`.${base}`),
  );
}

/** True when the WATCH_SERVICES entry `entry` allows `service`: a host serving user content only when named. */
function serviceAllowed(entry: string, service: string): boolean {
  if (!servesUserContent(service))
    return entry === '*' || hostMatches(entry, service);
  return servesUserContent(entry) && hostMatches(entry, service);
}

/** What {@link parseAllowlists} reads: the variables as set (unset ones take their defaults). */
export interface AllowlistEnv {
  GOOGLE_CLOUD_PROJECT: string;
  WATCH_PROJECTS?: string;
  WATCH_SERVICES?: string;
  ALLOWED_TOPICS?: string;
  DELEGATION_SUBJECTS?: string;
}

/** The items of a comma-separated list, trimmed, empty ones dropped. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map(item => item.trim())
    .filter(item => item !== '');
}

const list = (text: string | undefined): string[] | undefined =>
  text === undefined
    ? undefined
    : splitList(text).map(item => item.toLowerCase());

/**
 * True when `text` fits `glob`, whose `*` matches any run of characters within one path segment. No regular
 * expression: backtracking made a glob with several `*` cost a power of the text's length (`*a*a*a*a*a*a*b`
 * against a 100-character topic took two minutes). Here each segment's pieces are found left to right, each
 * at its first place, which for `*` alone is exact, and every character of the text is looked at a bounded
 * number of times per piece: linear in the text for a given glob.
 */
export function globMatches(glob: string, text: string): boolean {
  const globSegments = glob.split('/');
  const textSegments = text.split('/');
  return (
    globSegments.length === textSegments.length &&
    globSegments.every((segment, i) => segmentMatches(segment, textSegments[i]))
  );
}

/** Whether one path segment fits one segment of a glob. */
function segmentMatches(glob: string, text: string): boolean {
  const pieces = glob.split('*');
  if (pieces.length === 1) return glob === text;
  const first = pieces[0];
  const last = pieces[pieces.length - 1];
  const end = text.length - last.length;
  if (end < first.length || !text.startsWith(first) || !text.endsWith(last))
    return false;
  let at = first.length;
  for (const piece of pieces.slice(1, -1)) {
    const found = text.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** Reads the allowlists; an unset variable takes its documented default. */
export function parseAllowlists(env: AllowlistEnv): Allowlists {
  const project = env.GOOGLE_CLOUD_PROJECT;
  return {
    projects: new Set(list(env.WATCH_PROJECTS) ?? [project]),
    services: list(env.WATCH_SERVICES) ?? SERVICE_PRESETS.flatMap(p => p.hosts),
    // Topic ids are case-sensitive: only the list is split, not lower-cased.
    topics:
      env.ALLOWED_TOPICS === undefined
        ? [`projects/${project}/topics/*`]
        : splitList(env.ALLOWED_TOPICS),
    subjects: list(env.DELEGATION_SUBJECTS) ?? [],
  };
}

/** The project an operation name belongs to, if it starts with `projects/{id}/`. */
export function projectOf(name: string): string | undefined {
  return /^projects\/([^/]+)\//.exec(name)?.[1];
}

function subjectAllowed(subject: string, allowed: readonly string[]): boolean {
  const email = subject.toLowerCase();
  const domain = email.slice(email.lastIndexOf('@'));
  return allowed.some(entry => entry === email || entry === domain);
}

/**
 * What the allowlists refuse in a registration: one entry per field at fault, naming what is not allowed and the
 * variable that would allow it; empty when everything is allowed.
 */
export function refusals(
  registration: Pick<NewRegistration, 'operation' | 'topic' | 'subject'>,
  allowlists: Allowlists,
  names: ListNames = VARIABLE_NAMES,
): Refusal[] {
  const found: Refusal[] = [];
  const {service, name} = registration.operation;
  if (!allowlists.services.some(entry => serviceAllowed(entry, service))) {
    const hint = servesUserContent(service)
      ? ' (it serves user content: only naming it allows it, never *)'
      : '';
    found.push({
      field: 'operation',
      message: `service ${service} is not in ${names.services}${hint}`,
    });
  }
  const project = projectOf(name);
  if (
    project !== undefined &&
    !allowlists.projects.has('*') &&
    !allowlists.projects.has(project)
  ) {
    found.push({
      field: 'operation',
      message: `project ${project} is not in ${names.projects}`,
    });
  }
  if (allowlists.reservedTopics?.has(registration.topic)) {
    found.push({
      field: 'topic',
      message: `topic ${registration.topic} is one of opwatch's own topics`,
    });
  } else if (
    !allowlists.topics.some(glob => globMatches(glob, registration.topic))
  ) {
    found.push({
      field: 'topic',
      message: `topic ${registration.topic} is not in ${names.topics}`,
    });
  }
  const {subject} = registration;
  if (subject !== undefined && !subjectAllowed(subject, allowlists.subjects)) {
    found.push({
      field: 'subject',
      message: `subject ${subject} is not in ${names.subjects}`,
    });
  }
  return found;
}
