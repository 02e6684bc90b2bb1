/**
 * Validation of watch requests (`POST /watches`). The poller sends the service account's token to
 * `https://{service}/{version}/{parent}/operations`, so the parent is held to the rules of an operation name
 * (validation.ts): a trusted host, printable ASCII segments, no query, fragment, encoding or dot segment; and it
 * must be a parent of the service's operations, as its preset names them.
 */
import {GENERIC_PRESET, nameMatches, presetFor} from '../core/presets';
import {DEFAULT_TIMEOUT_MS} from '../core/schemas';
import {watchRequestSchema, type NewWatch} from '../core/watch';
import {
  checkHost,
  checkPath,
  checkTopic,
  checkVersion,
  parseBody,
  type Problems,
  type ValidationContext,
  type Validated,
} from './validation';

/** The operation id a parent is tried with against the preset's name patterns. */
const PROBE_ID = 'x';

/** Checks the parent's path; pushes problems against `parent`. */
function checkParent(parent: string, problems: Problems): string | undefined {
  const segments = checkPath(parent, 'parent', problems);
  if (!segments) return undefined;
  if (segments.includes('operations')) {
    return void problems.push({
      field: 'parent',
      message:
        'must name the resource whose operations are listed, without /operations',
    });
  }
  return parent;
}

/**
 * Validates a watch request body and normalises it.
 * @returns the watch, or the problems, each naming its field.
 */
export function validateWatch(
  body: unknown,
  context: ValidationContext,
): Validated<NewWatch> {
  const parsed = parseBody(watchRequestSchema, body);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const problems: Problems = [];
  const host = checkHost(
    request.service,
    'service',
    context.endpointOverrides,
    problems,
  );
  const preset = host ? (presetFor(host) ?? GENERIC_PRESET) : undefined;
  const version = checkVersion(
    request.version ?? preset?.defaultVersion ?? 'v1',
    'version',
    problems,
  );
  const parent = checkParent(request.parent, problems);
  const topic = checkTopic(request.topic, context, problems);
  if (!host || !preset || !version || !parent || !topic || problems.length > 0)
    return {ok: false, problems};
  if (preset.style !== 'longrunning') {
    const message = `${host} answers with its own operation shape, not google.longrunning: it cannot be watched by parent`;
    return {ok: false, problems: [{field: 'service', message}]};
  }
  const probe = `${parent}/operations/${PROBE_ID}`;
  if (!preset.namePatterns.some(pattern => nameMatches(pattern, probe))) {
    const patterns = preset.namePatterns.map(pattern =>
      pattern.replace(/\/operations\/[^/]+$/, ''),
    );
    const message = `${host} lists operations under ${patterns.join(' or ')}`;
    return {ok: false, problems: [{field: 'parent', message}]};
  }
  return {
    ok: true,
    value: {
      service: host,
      version,
      parent,
      ...(request.filter !== undefined && {filter: request.filter}),
      topic,
      labels: request.labels ?? {},
      timeoutMs: request.timeout ?? DEFAULT_TIMEOUT_MS,
      scopes: [...preset.defaultScopes],
      style: preset.style,
    },
  };
}
