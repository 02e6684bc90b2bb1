/**
 * Validation and normalisation of registration requests.
 *
 * The poller sends the service account's bearer token to the host a registration names, so this is the gate that
 * keeps the token on Google's hosts: only `https://` on `*.googleapis.com` (or a host the operator listed in
 * `ENDPOINT_OVERRIDES`), no user-info, port, IP literal, query, fragment, encoded or dot segment, and nothing but
 * printable ASCII. The URL is read with exact rules rather than a lenient parser, because a lenient parser would
 * quietly turn `googleapis\u3002com` or `host%2fpath` into something else than what was checked.
 */
import {
  fullTopicName,
  isTrustedHost,
  type EndpointOverrides,
} from '../core/config';
import type {z} from 'zod';
import {
  GENERIC_PRESET,
  nameMatches,
  presetFor,
  type ServicePreset,
} from '../core/presets';
import type {NewRegistration, OperationRef} from '../core/model';
import {
  DEFAULT_TIMEOUT_MS,
  MAX_NAME_LENGTH,
  fieldProblems,
  registrationRequestSchema,
  type FieldProblem,
} from '../core/schemas';

/** What validation needs from the configuration. */
export interface ValidationContext {
  projectId: string;
  defaultTopic: string;
  endpointOverrides: EndpointOverrides;
}

const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const NAME_SEGMENT = /^[A-Za-z0-9_.~()-]+$/;
const VERSION = /^v\d+[a-z0-9]*$/;
const API_PREFIX = /^[a-z][a-z0-9]*$/;

export type Problems = FieldProblem[];

/** Checks an API host: a DNS name the poller may send its token to; pushes problems against `field`. */
export function checkHost(
  raw: string,
  field: string,
  overrides: EndpointOverrides,
  problems: Problems,
): string | undefined {
  const host = raw.toLowerCase();
  if (raw.includes('@'))
    return void problems.push({
      field,
      message: 'must not contain user-info (@)',
    });
  if (raw.includes(':') || raw.includes('['))
    return void problems.push({field, message: 'must not carry a port'});
  if (host.endsWith('.'))
    return void problems.push({field, message: 'must not end with a dot'});
  const labels = host.split('.');
  if (!labels.every(label => HOST_LABEL.test(label))) {
    return void problems.push({field, message: 'must be a DNS host name'});
  }
  if (
    labels.every(label => /^\d+$/.test(label)) ||
    /^\d+$/.test(labels[labels.length - 1])
  ) {
    return void problems.push({field, message: 'must not be an IP address'});
  }
  if (!isTrustedHost(host, overrides)) {
    return void problems.push({
      field,
      message:
        'must be a *.googleapis.com host (or one listed in ENDPOINT_OVERRIDES): the poller sends its token there',
    });
  }
  return host;
}

/** Checks an API version path such as v1 or compute/v1; pushes problems against `field`. */
export function checkVersion(
  version: string,
  field: string,
  problems: Problems,
): string | undefined {
  const parts = version.split('/');
  const valid =
    (parts.length === 1 && VERSION.test(parts[0])) ||
    (parts.length === 2 && API_PREFIX.test(parts[0]) && VERSION.test(parts[1]));
  if (!valid)
    return void problems.push({
      field,
      message: 'must be an API version such as v1, v1beta or compute/v1',
    });
  return version;
}

/**
 * Checks a resource path the poller sends its token to (an operation name, a watched parent): printable ASCII
 * segments, no query, fragment, encoding, empty or dot segment; pushes problems against `field`.
 * @returns its segments, or undefined.
 */
export function checkPath(
  name: string,
  field: string,
  problems: Problems,
): string[] | undefined {
  if (name.length === 0)
    return void problems.push({field, message: 'must not be empty'});
  if (name.length > MAX_NAME_LENGTH) {
    return void problems.push({
      field,
      message: `must be at most ${MAX_NAME_LENGTH} characters`,
    });
  }
  if (!PRINTABLE_ASCII.test(name)) {
    return void problems.push({
      field,
      message:
        'must contain only printable ASCII, no spaces or control characters',
    });
  }
  if (/[?#]/.test(name))
    return void problems.push({
      field,
      message: 'must not contain a query string or fragment',
    });
  if (/[%\\]/.test(name)) {
    return void problems.push({
      field,
      message: 'must not contain percent-encoding or backslashes',
    });
  }
  const segments = name.split('/');
  if (
    segments.some(
      segment => segment === '' || segment === '.' || segment === '..',
    )
  ) {
    return void problems.push({
      field,
      message: 'must not contain empty, "." or ".." segments',
    });
  }
  if (!segments.every(segment => NAME_SEGMENT.test(segment))) {
    return void problems.push({
      field,
      message: 'segments may contain only letters, digits and _ . ~ ( ) -',
    });
  }
  return segments;
}

function checkName(
  name: string,
  field: string,
  problems: Problems,
): string | undefined {
  const segments = checkPath(name, field, problems);
  if (!segments) return undefined;
  const operationsAt = segments.indexOf('operations');
  if (operationsAt < 0 || operationsAt === segments.length - 1) {
    return void problems.push({
      field,
      message: 'must name an operation: .../operations/{id}',
    });
  }
  return name;
}

/** The full name of the topic a request names (or the default); pushes a problem when it names none. */
export function checkTopic(
  topic: string | undefined,
  context: ValidationContext,
  problems: Problems,
): string | undefined {
  const full = fullTopicName(topic ?? context.defaultTopic, context.projectId);
  if (!full)
    problems.push({
      field: 'topic',
      message: 'must be a topic id or projects/P/topics/T',
    });
  return full;
}

/** An operation URL's parts. */
interface OperationParts {
  host: string;
  version: string;
  name: string;
}

/** Splits `https://host/version/name` into its parts; pushes problems against `field`. */
function parseOperationUrl(
  url: string,
  field: string,
  overrides: EndpointOverrides,
  problems: Problems,
): OperationParts | undefined {
  if (!PRINTABLE_ASCII.test(url)) {
    return void problems.push({
      field,
      message:
        'must contain only printable ASCII, no spaces or control characters',
    });
  }
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url);
  if (!match)
    return void problems.push({field, message: 'must be an https:// URL'});
  const [, scheme, authority, rest] = match;
  if (scheme.toLowerCase() !== 'https')
    return void problems.push({field, message: 'must use https://'});
  if (/[?#]/.test(rest))
    return void problems.push({
      field,
      message: 'must not contain a query string or fragment',
    });
  if (authority.includes('\\') || rest.startsWith('\\')) {
    return void problems.push({field, message: 'must not contain backslashes'});
  }
  const host = checkHost(authority, field, overrides, problems);
  if (!host) return undefined;
  const segments = rest.replace(/^\//, '').split('/');
  const versionLength = VERSION.test(segments[0] ?? '')
    ? 1
    : VERSION.test(segments[1] ?? '')
      ? 2
      : 0;
  if (versionLength === 0) {
    return void problems.push({
      field,
      message: 'path must start with an API version such as /v1/',
    });
  }
  const version = checkVersion(
    segments.slice(0, versionLength).join('/'),
    field,
    problems,
  );
  const name = checkName(
    segments.slice(versionLength).join('/'),
    field,
    problems,
  );
  return version && name ? {host, version, name} : undefined;
}

type RegistrationRequest = z.output<typeof registrationRequestSchema>;
/** A request checked: its normalised value, or every problem with it. */
export type Validated<T> =
  {ok: true; value: T} | {ok: false; problems: Problems};

/** The body read with a request schema: its shape, not yet its rules. */
export function parseBody<T extends z.ZodType>(
  schema: T,
  body: unknown,
): Validated<z.output<T>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      problems: [{field: 'body', message: 'must be a JSON object'}],
    };
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return {ok: true, value: parsed.data};
  return {
    ok: false,
    problems: fieldProblems(parsed.error, 'body'),
  };
}

/** The operation's host, version and name, from its URL or from `service`, `name` and `version`. */
function operationParts(
  request: RegistrationRequest,
  overrides: EndpointOverrides,
  problems: Problems,
): OperationParts | undefined {
  if (request.operation !== undefined) {
    for (const field of ['service', 'name', 'version'] as const) {
      if (request[field] !== undefined) {
        problems.push({
          field,
          message:
            'give either "operation" (a URL) or "service" and "name", not both',
        });
      }
    }
    return parseOperationUrl(
      request.operation,
      'operation',
      overrides,
      problems,
    );
  }
  if (request.service === undefined || request.name === undefined) {
    problems.push({
      field: request.service === undefined ? 'service' : 'name',
      message: 'required: give "operation" (a URL), or "service" and "name"',
    });
    return undefined;
  }
  const host = checkHost(request.service, 'service', overrides, problems);
  const preset = host ? (presetFor(host) ?? GENERIC_PRESET) : undefined;
  const version = checkVersion(
    request.version ?? preset?.defaultVersion ?? 'v1',
    'version',
    problems,
  );
  const name = checkName(request.name, 'name', problems);
  return host && version && name ? {host, version, name} : undefined;
}

/**
 * What the service's preset requires of the operation: a name of its shape, and scopes it accepts for
 * `operations.get`.
 * @returns the scopes to poll with, or the problem.
 */
function checkAgainstPreset(
  request: RegistrationRequest,
  parts: OperationParts,
  preset: ServicePreset,
): Validated<string[]> {
  if (!preset.namePatterns.some(pattern => nameMatches(pattern, parts.name))) {
    const field = request.operation !== undefined ? 'operation' : 'name';
    const message = `${parts.host} operations are named ${preset.namePatterns.join(' or ')}`;
    return {ok: false, problems: [{field, message}]};
  }
  if (request.subject !== undefined && request.scopes === undefined) {
    // Google refuses a delegated token unless the Workspace admin authorised every scope asked for, so asking for
    // a preset's whole list would fail; the caller knows which scopes were authorised.
    const message =
      'required with "subject": list the scopes the Workspace admin authorised for domain-wide delegation';
    return {ok: false, problems: [{field: 'scopes', message}]};
  }
  const scopes = request.scopes ?? [...preset.defaultScopes];
  // Only scopes that authorise operations.get (cloud-platform alone for a service without a preset): any other
  // would let a caller borrow the token for other reads.
  const unaccepted = scopes.find(
    scope => !preset.acceptedScopes.includes(scope),
  );
  if (unaccepted === undefined) return {ok: true, value: scopes};
  const message = `not a scope this service accepts: ${unaccepted}`;
  return {ok: false, problems: [{field: 'scopes', message}]};
}

/**
 * Validates a registration request body and normalises it.
 * @returns the registration, or the problems, each naming its field.
 */
export function validateRegistration(
  body: unknown,
  context: ValidationContext,
): Validated<NewRegistration> {
  const parsed = parseBody(registrationRequestSchema, body);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const problems: Problems = [];
  const parts = operationParts(request, context.endpointOverrides, problems);
  const topic = checkTopic(request.topic, context, problems);
  if (!parts || !topic || problems.length > 0) return {ok: false, problems};

  const preset = presetFor(parts.host) ?? GENERIC_PRESET;
  const scopes = checkAgainstPreset(request, parts, preset);
  if (!scopes.ok) return scopes;
  const operation: OperationRef = {
    service: parts.host,
    version: parts.version,
    name: parts.name,
    url: `https://${parts.host}/${parts.version}/${parts.name}`,
  };
  return {
    ok: true,
    value: {
      operation,
      topic,
      labels: request.labels ?? {},
      timeoutMs: request.timeout ?? DEFAULT_TIMEOUT_MS,
      scopes: scopes.value,
      style: preset.style,
      ...(request.subject !== undefined && {subject: request.subject}),
      ...(request.pollPolicy !== undefined && {pollPolicy: request.pollPolicy}),
    },
  };
}
