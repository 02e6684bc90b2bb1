import {
  DEFAULT_TIMEOUT_MS,
  parseDuration,
} from '../../../functions/core/schemas';
import {
  validateRegistration,
  type ValidationContext,
} from '../../../functions/registration/validation';
import {CLOUD_PLATFORM} from '../../../functions/core/presets';

const context: ValidationContext = {
  projectId: 'demo-opwatch',
  defaultTopic: 'projects/demo-opwatch/topics/opwatch-notifications',
  endpointOverrides: new Map([['localstack.test', 'http://127.0.0.1:9020']]),
};

function accepted(body: unknown) {
  const result = validateRegistration(body, context);
  if (!result.ok)
    throw new Error(`rejected: ${JSON.stringify(result.problems)}`);
  return result.value;
}

function rejected(body: unknown) {
  const result = validateRegistration(body, context);
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.value)}`);
  return result.problems;
}

describe('operation URLs of the three seed API families', () => {
  it.each([
    [
      'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations/ABC',
      'firestore.googleapis.com',
      'v1',
      'projects/p/databases/(default)/operations/ABC',
    ],
    [
      'https://firestore.googleapis.com/v1/projects/my-proj/databases/orders-db/operations/ASA3NDEwOTg0NjExChp0bHVhZmVk',
      'firestore.googleapis.com',
      'v1',
      'projects/my-proj/databases/orders-db/operations/ASA3NDEwOTg0NjExChp0bHVhZmVk',
    ],
    [
      'https://workspaceevents.googleapis.com/v1beta/operations/abc123',
      'workspaceevents.googleapis.com',
      'v1beta',
      'operations/abc123',
    ],
    [
      'https://workspaceevents.googleapis.com/v1beta/operations/subscriptions/sub-1/create',
      'workspaceevents.googleapis.com',
      'v1beta',
      'operations/subscriptions/sub-1/create',
    ],
    [
      'https://apigateway.googleapis.com/v1/projects/p/locations/global/operations/operation-1700000000000-abc',
      'apigateway.googleapis.com',
      'v1',
      'projects/p/locations/global/operations/operation-1700000000000-abc',
    ],
    [
      'https://apigateway.googleapis.com/v1/projects/p/locations/us-central1/operations/op_2',
      'apigateway.googleapis.com',
      'v1',
      'projects/p/locations/us-central1/operations/op_2',
    ],
  ])('accepts %s', (url, service, version, name) => {
    const registration = accepted({operation: url});
    expect(registration.operation).toEqual({service, version, name, url});
    expect(registration.topic).toBe(context.defaultTopic);
    expect(registration.timeoutMs).toBe(DEFAULT_TIMEOUT_MS);
    expect(registration.labels).toEqual({});
  });

  it('keeps the slashes of gRPC-transcoding names (operations/**)', () => {
    const registration = accepted({
      service: 'workspaceevents.googleapis.com',
      name: 'operations/a/b/c/d',
    });
    expect(registration.operation.url).toBe(
      'https://workspaceevents.googleapis.com/v1beta/operations/a/b/c/d',
    );
  });

  it('builds the same canonical URL from the parts, with the preset version by default', () => {
    const fromUrl = accepted({
      operation:
        'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations/ABC',
    });
    const fromParts = accepted({
      service: 'firestore.googleapis.com',
      name: 'projects/p/databases/(default)/operations/ABC',
    });
    expect(fromParts.operation).toEqual(fromUrl.operation);
    expect(
      accepted({
        service: 'workspaceevents.googleapis.com',
        name: 'operations/x',
      }).operation.version,
    ).toBe('v1beta');
  });

  it('lower-cases the host and the scheme', () => {
    const registration = accepted({
      operation:
        'HTTPS://APIGATEWAY.GoogleApis.com/v1/projects/p/locations/l/operations/o',
    });
    expect(registration.operation.url).toBe(
      'https://apigateway.googleapis.com/v1/projects/p/locations/l/operations/o',
    );
  });

  it('asks for the preset scopes: datastore or cloud-platform for Firestore, the Workspace list for Workspace Events', () => {
    expect(
      accepted({
        service: 'firestore.googleapis.com',
        name: 'projects/p/databases/d/operations/o',
      }).scopes,
    ).toEqual([CLOUD_PLATFORM]);
    const workspace = accepted({
      service: 'workspaceevents.googleapis.com',
      name: 'operations/o',
    });
    expect(workspace.scopes).toContain(
      'https://www.googleapis.com/auth/chat.bot',
    );
    expect(workspace.scopes).toContain(
      'https://www.googleapis.com/auth/drive.readonly',
    );
    expect(workspace.scopes).toHaveLength(17);
  });

  it('accepts other googleapis services with a generic name, and compute/v1 style versions', () => {
    expect(
      accepted({
        operation:
          'https://compute.googleapis.com/compute/v1/projects/p/zones/us-east1-b/operations/operation-1',
      }).operation,
    ).toMatchObject({service: 'compute.googleapis.com', version: 'compute/v1'});
    expect(
      accepted({
        operation:
          'https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/1/operations/2',
      }).operation.service,
    ).toBe('us-central1-aiplatform.googleapis.com');
    expect(
      accepted({
        operation:
          'https://translate.googleapis.com/v3/projects/p/locations/l/operations/x',
      }).scopes,
    ).toEqual([CLOUD_PLATFORM]);
  });

  it('accepts a host named in ENDPOINT_OVERRIDES', () => {
    expect(
      accepted({service: 'localstack.test', name: 'projects/p/operations/1'})
        .operation.url,
    ).toBe('https://localstack.test/v1/projects/p/operations/1');
  });
});

describe('optional fields', () => {
  const operation =
    'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations/ABC';

  it('expands a short topic into the project and keeps a full one', () => {
    expect(accepted({operation, topic: 'builds'}).topic).toBe(
      'projects/demo-opwatch/topics/builds',
    );
    expect(
      accepted({operation, topic: 'projects/other-proj/topics/t-1'}).topic,
    ).toBe('projects/other-proj/topics/t-1');
  });

  it('reads labels, timeout, poll policy and subject', () => {
    const registration = accepted({
      operation,
      labels: {team: 'data', 'job_id-2': '42'},
      timeout: '3600s',
      pollPolicy: {
        initialDelay: '2s',
        multiplier: 2,
        maxDelay: '30s',
        jitter: 0,
      },
      subject: 'admin@example.com',
      scopes: ['https://www.googleapis.com/auth/datastore'],
    });
    expect(registration.labels).toEqual({team: 'data', 'job_id-2': '42'});
    expect(registration.timeoutMs).toBe(3_600_000);
    expect(registration.pollPolicy).toEqual({
      initialDelayMs: 2000,
      multiplier: 2,
      maxDelayMs: 30_000,
      jitter: 0,
    });
    expect(registration.subject).toBe('admin@example.com');
  });

  it('parses google.protobuf.Duration strings', () => {
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('0.000000001s')).toBe(0);
    expect(parseDuration('10m')).toBeUndefined();
    expect(parseDuration('-1s')).toBeUndefined();
  });
});

describe('rejections name the field', () => {
  const base =
    'https://firestore.googleapis.com/v1/projects/p/databases/(default)/operations/';

  it.each([
    [
      'http: scheme',
      'http://firestore.googleapis.com/v1/projects/p/databases/d/operations/A',
      /https/,
    ],
    [
      'another host',
      'https://example.com/v1/projects/p/databases/d/operations/A',
      /googleapis\.com/,
    ],
    [
      'a look-alike host',
      'https://firestore.googleapis.com.evil.test/v1/projects/p/databases/d/operations/A',
      /googleapis\.com/,
    ],
    [
      'googleapis.com itself',
      'https://googleapis.com/v1/operations/A',
      /googleapis\.com/,
    ],
    [
      'user-info',
      'https://user@firestore.googleapis.com/v1/projects/p/databases/d/operations/A',
      /user-info/,
    ],
    [
      'user-info hiding a host',
      'https://firestore.googleapis.com@evil.test/v1/operations/A',
      /user-info/,
    ],
    [
      'a port',
      'https://firestore.googleapis.com:8443/v1/projects/p/databases/d/operations/A',
      /port/,
    ],
    [
      'an IPv4 literal',
      'https://127.0.0.1/v1/operations/A',
      /IP address|googleapis/,
    ],
    ['an IPv6 literal', 'https://[::1]/v1/operations/A', /port|host/],
    [
      'a trailing dot',
      'https://firestore.googleapis.com./v1/projects/p/databases/d/operations/A',
      /dot/,
    ],
    ['a query string', `${base}A?alt=media`, /query/],
    ['a fragment', `${base}A#x`, /fragment/],
    [
      'a dot-dot segment',
      'https://firestore.googleapis.com/v1/projects/p/../../evil/operations/A',
      /\.\./,
    ],
    ['an encoded slash', `${base}A%2f..%2fx`, /percent/],
    [
      'a backslash',
      'https://firestore.googleapis.com\\@evil.test/v1/operations/A',
      /backslash|user-info/,
    ],
    [
      'a unicode dot',
      'https://firestore.googleapis\u3002com/v1/operations/A',
      /ASCII/,
    ],
    ['a control character', `${base}A\u0000`, /ASCII/],
    ['a space', `${base}A B`, /ASCII/],
    [
      'no operations segment',
      'https://firestore.googleapis.com/v1/projects/p/databases/d',
      /operation/,
    ],
    [
      'operations as the last segment',
      'https://firestore.googleapis.com/v1/projects/p/operations',
      /operation/,
    ],
    [
      'no version',
      'https://firestore.googleapis.com/projects/p/databases/d/operations/A',
      /version/,
    ],
    ['a name over 1,024 characters', `${base}${'A'.repeat(1025)}`, /1024/],
    [
      'a name outside the preset pattern',
      'https://firestore.googleapis.com/v1/projects/p/operations/A',
      /projects\/\*\/databases/,
    ],
    [
      'an empty segment',
      'https://apigateway.googleapis.com/v1/projects//locations/l/operations/A',
      /empty/,
    ],
  ])('rejects %s', (_what, operation, message) => {
    const problems = rejected({operation});
    expect(problems[0].field).toBe('operation');
    expect(problems[0].message).toMatch(message);
  });

  it.each([
    [{}, 'service'],
    [{service: 'firestore.googleapis.com'}, 'name'],
    [
      {
        operation:
          'https://firestore.googleapis.com/v1/projects/p/databases/d/operations/A',
        service: 'x',
      },
      'service',
    ],
    [{service: 'evil.test', name: 'operations/A'}, 'service'],
    [
      {
        service: 'firestore.googleapis.com',
        name: 'projects/p/databases/d/operations/A',
        version: '1',
      },
      'version',
    ],
    [
      {service: 'workspaceevents.googleapis.com', name: 'operations/a/./b'},
      'name',
    ],
    [
      {service: 'workspaceevents.googleapis.com', name: '/operations/a'},
      'name',
    ],
    [{operation: 42}, 'operation'],
    [{operation: `${base}A`, topic: 'goog-reserved'}, 'topic'],
    [{operation: `${base}A`, topic: 'projects/p/subscriptions/s'}, 'topic'],
    [{operation: `${base}A`, labels: {Team: 'x'}}, 'labels.Team'],
    [{operation: `${base}A`, labels: {team: 7}}, 'labels.team'],
    [{operation: `${base}A`, labels: {team: 'a\nb'}}, 'labels.team'],
    [
      {
        operation: `${base}A`,
        labels: Object.fromEntries(
          Array.from({length: 33}, (_, i) => [`k${i}`, 'v']),
        ),
      },
      'labels',
    ],
    [{operation: `${base}A`, timeout: '3600'}, 'timeout'],
    [{operation: `${base}A`, timeout: '0s'}, 'timeout'],
    [{operation: `${base}A`, timeout: '99999999s'}, 'timeout'],
    [
      {operation: `${base}A`, pollPolicy: {multiplier: 0.5}},
      'pollPolicy.multiplier',
    ],
    [
      {
        operation: `${base}A`,
        pollPolicy: {initialDelay: '10s', maxDelay: '5s'},
      },
      'pollPolicy',
    ],
    [{operation: `${base}A`, pollPolicy: {every: '1s'}}, 'pollPolicy'],
    [{operation: `${base}A`, subject: 'not-an-email'}, 'subject'],
    [{operation: `${base}A`, subject: 'admin@example.com'}, 'scopes'],
    [
      {
        operation: `${base}A`,
        scopes: ['https://www.googleapis.com/auth/drive'],
      },
      'scopes',
    ],
    [{operation: `${base}A`, extra: true}, 'body'],
  ])('rejects %j on %s', (body, field) => {
    const problems = rejected(body);
    expect(problems.map(problem => problem.field)).toContain(field);
    for (const problem of problems)
      expect(problem.message.length).toBeGreaterThan(5);
  });

  it.each([null, [], 'text', 42])(
    'rejects a body that is not an object: %j',
    body => {
      expect(rejected(body)).toEqual([
        {field: 'body', message: 'must be a JSON object'},
      ]);
    },
  );
});
