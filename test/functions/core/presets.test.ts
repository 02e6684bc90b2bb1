/**
 * The service presets against the APIs' reference pages: each known service's `operations.get` name templates
 * accept the names its APIs return and nothing of another service's shape, hosts resolve (regional Vertex AI
 * included), and the scopes the poller asks for are the preset's, or a subset a registration narrows them to.
 */
import {
  CLOUD_PLATFORM,
  GENERIC_PRESET,
  SERVICE_PRESETS,
  nameMatches,
  presetFor,
  type ServicePreset,
} from '../../../functions/core/presets';
import {
  validateRegistration,
  type ValidationContext,
} from '../../../functions/registration/validation';
import {growth} from '../../support/growth';

const AUTH = 'https://www.googleapis.com/auth/';
const context: ValidationContext = {
  projectId: 'demo-opwatch',
  defaultTopic: 'projects/demo-opwatch/topics/opwatch-notifications',
  endpointOverrides: new Map(),
};

function accepted(body: object) {
  const result = validateRegistration(body, context);
  if (!result.ok)
    throw new Error(`rejected: ${JSON.stringify(result.problems)}`);
  return result.value;
}

function rejected(body: object) {
  const result = validateRegistration(body, context);
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.value)}`);
  return result.problems;
}

const fits = (preset: ServicePreset, name: string) =>
  preset.namePatterns.some(pattern => nameMatches(pattern, name));

/** Names as each API returns them in `Operation.name` (or, for Compute and Cloud SQL, builds from selfLink). */
const REAL_NAMES: Record<string, string[]> = {
  'aiplatform.googleapis.com': [
    'projects/123456789012/locations/us-central1/operations/4560000000000000000',
    'projects/my-proj/locations/us-central1/endpoints/987/operations/111',
    'projects/my-proj/locations/europe-west4/datasets/42/annotationSpecs/7/operations/8',
    'projects/my-proj/locations/us-central1/featurestores/fs/entityTypes/users/operations/9',
  ],
  'apigateway.googleapis.com': [
    'projects/my-proj/locations/global/operations/operation-1700000000000-60a1b2c3d4e5f-a1b2c3d4-e5f6a7b8',
    'projects/my-proj/locations/us-central1/operations/operation-1700000000001-abc',
  ],
  'compute.googleapis.com': [
    'projects/my-proj/zones/us-central1-a/operations/operation-1700000000000-5f0e1d2c3b4a5-6789abcd-ef012345',
    'projects/my-proj/regions/us-central1/operations/operation-1700000000000-abc',
    'projects/my-proj/global/operations/operation-1700000000000-def',
    'locations/global/operations/org-123456789012-operation-1700000000000',
  ],
  'firestore.googleapis.com': [
    'projects/my-proj/databases/(default)/operations/ASA3NDEwOTg0NjExChp0bHVhZmVkBxJsYXJ0bmVjc3Utc2Jvai1uaW1kYRQKLRI',
    'projects/my-proj/databases/orders-db/operations/AiAxN2I3ZDc2MjE',
  ],
  'redis.googleapis.com': [
    'projects/my-proj/locations/us-central1/operations/operation-1700000000000-5f1a2b3c4d5e6-7f8a9b0c-1d2e3f4a',
  ],
  'run.googleapis.com': [
    'projects/my-proj/locations/us-central1/operations/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
  ],
  'spanner.googleapis.com': [
    'projects/my-proj/instances/prod/operations/_auto_op_0123456789abcdef',
    'projects/my-proj/instances/prod/databases/orders/operations/_auto_op_abc',
    'projects/my-proj/instances/prod/backups/nightly/operations/_auto_op_def',
    'projects/my-proj/instanceConfigs/custom-nam11/operations/op-1',
    'projects/my-proj/instanceConfigs/custom-nam11/ssdCaches/cache-1/operations/op-2',
    'projects/my-proj/instances/prod/instancePartitions/p1/operations/op-3',
  ],
  'sqladmin.googleapis.com': [
    'projects/my-proj/operations/0a1b2c3d-4e5f-6a7b-8c9d-0e1f00000024',
  ],
  'workspaceevents.googleapis.com': [
    'operations/c3Vic2NyaXB0aW9ucy9jaGF0LXNwYWNlcy0xMjM',
    'operations/subscriptions/chat-spaces-123/create',
  ],
};

/** Names no preset may take from another: each fits exactly the services listed. */
const OTHER_SHAPES: Array<[string, string[]]> = [
  ['projects/p/databases/(default)/operations/X', ['firestore.googleapis.com']],
  [
    'projects/p/locations/l/operations/X',
    [
      'aiplatform.googleapis.com',
      'apigateway.googleapis.com',
      'redis.googleapis.com',
      'run.googleapis.com',
    ],
  ],
  ['projects/p/zones/z/operations/X', ['compute.googleapis.com']],
  ['projects/p/operations/X', ['sqladmin.googleapis.com']],
  ['projects/p/instances/i/operations/X', ['spanner.googleapis.com']],
  ['operations/X', ['workspaceevents.googleapis.com']],
  ['projects/p/operations', []],
  ['projects/p/locations/l/services/s', []],
];

describe('the table', () => {
  it('has a row for every known service, sorted by host, and real names for each', () => {
    const hosts = SERVICE_PRESETS.map(preset => preset.hosts[0]);
    expect(hosts).toEqual([...hosts].sort());
    expect(hosts).toEqual(Object.keys(REAL_NAMES));
  });

  it.each(SERVICE_PRESETS.map(preset => [preset.hosts[0], preset] as const))(
    '%s: asks only for scopes it accepts, and names operations .../operations/...',
    (_host, preset) => {
      expect(preset.defaultScopes.length).toBeGreaterThan(0);
      for (const scope of preset.defaultScopes)
        expect(preset.acceptedScopes).toContain(scope);
      for (const scope of preset.acceptedScopes)
        expect(scope).toMatch(
          /^https:\/\/www\.googleapis\.com\/auth\/[\w.-]+$/,
        );
      for (const pattern of preset.namePatterns)
        expect(pattern).toMatch(/(^|\/)operations\/\*\*?$/);
    },
  );

  it('the status-done style is exactly Compute Engine and Cloud SQL Admin', () => {
    const statusDone = SERVICE_PRESETS.filter(p => p.style === 'status-done');
    expect(statusDone.map(p => p.hosts[0])).toEqual([
      'compute.googleapis.com',
      'sqladmin.googleapis.com',
    ]);
  });

  it('Workspace Events accepts the 17 scopes its v1beta operations.get lists', () => {
    const preset = presetFor('workspaceevents.googleapis.com')!;
    const names = preset.acceptedScopes.map(s => s.slice(AUTH.length));
    expect([...names].sort()).toEqual(
      [
        'chat.bot',
        'chat.memberships',
        'chat.memberships.readonly',
        'chat.messages',
        'chat.messages.reactions',
        'chat.messages.reactions.readonly',
        'chat.messages.readonly',
        'chat.spaces',
        'chat.spaces.readonly',
        'drive',
        'drive.file',
        'drive.metadata',
        'drive.metadata.readonly',
        'drive.readonly',
        'meet.space.created',
        'meetings.space.created',
        'meetings.space.readonly',
      ].sort(),
    );
    expect(preset.acceptedScopes).not.toContain(CLOUD_PLATFORM);
  });

  it('Firestore accepts datastore or cloud-platform, and asks for cloud-platform', () => {
    const preset = presetFor('firestore.googleapis.com')!;
    expect(preset.acceptedScopes).toEqual([`${AUTH}datastore`, CLOUD_PLATFORM]);
    expect(preset.defaultScopes).toEqual([CLOUD_PLATFORM]);
  });
});

describe('operation names', () => {
  describe.each(Object.entries(REAL_NAMES))('%s', (host, names) => {
    const preset = presetFor(host)!;

    it.each(names)('accepts %s', name => {
      expect(fits(preset, name)).toBe(true);
      const value = accepted({service: host, name});
      expect(value.operation.url).toBe(
        `https://${host}/${preset.defaultVersion}/${name}`,
      );
      expect(value.style).toBe(preset.style);
    });

    it.each(OTHER_SHAPES.filter(([, owners]) => !owners.includes(host)))(
      'rejects %s',
      name => {
        expect(fits(preset, name)).toBe(false);
      },
    );
  });

  it('a name that does not fit its known service is refused, naming the field and the patterns', () => {
    const problems = rejected({
      service: 'firestore.googleapis.com',
      name: 'projects/p/locations/us-central1/operations/X',
    });
    expect(problems).toEqual([
      {
        field: 'name',
        message: expect.stringContaining('projects/*/databases/*/operations/*'),
      },
    ]);
    const fromUrl = rejected({
      operation:
        'https://workspaceevents.googleapis.com/v1beta/projects/p/operations/X',
    });
    expect(fromUrl).toEqual([
      {field: 'operation', message: expect.stringContaining('operations/**')},
    ]);
  });

  it('* is exactly one segment, ** one or more', () => {
    expect(
      nameMatches('projects/*/operations/*', 'projects/a/b/operations/c'),
    ).toBe(false);
    expect(nameMatches('operations/**', 'operations/a/b/c')).toBe(true);
    expect(nameMatches('operations/**', 'operations')).toBe(false);
  });

  it.each([
    ['**', 'projects/*/locations/*/**/operations/*', 'operations/'],
    ['segments', 'projects/*/locations/*/**/operations/*', 'a/'],
    ['one long segment', 'operations/**', 'a'],
  ])('takes time linear in the name (%s)', (_what, pattern, unit) => {
    const found = growth(size => {
      const name = `projects/p/locations/l/${unit.repeat(size / unit.length)}x/y/`;
      return () => nameMatches(pattern, name);
    });
    expect(found.ratio).toBeLessThan(8);
  });
});

describe('hosts', () => {
  it.each([
    'us-central1-aiplatform.googleapis.com',
    'europe-west4-aiplatform.googleapis.com',
    'asia-northeast1-aiplatform.googleapis.com',
    'aiplatform.googleapis.com',
  ])('%s is Vertex AI', host => {
    expect(presetFor(host)).toBe(presetFor('aiplatform.googleapis.com'));
    const value = accepted({
      service: host,
      name: 'projects/p/locations/us-central1/operations/1',
    });
    expect(value.operation.url).toBe(
      `https://${host}/v1/projects/p/locations/us-central1/operations/1`,
    );
    expect(value.scopes).toEqual([CLOUD_PLATFORM]);
  });

  it.each([
    'evil.us-central1-aiplatform.googleapis.com',
    '-aiplatform.googleapis.com',
    'aiplatform.googleapis.com.example.com',
    'firestore.googleapis.co',
    'pubsub.googleapis.com',
  ])('%s has no preset', host => {
    expect(presetFor(host)).toBeUndefined();
  });

  it('a googleapis.com service without a preset gets the generic rules and cloud-platform', () => {
    const value = accepted({
      operation:
        'https://datamigration.googleapis.com/v1/projects/p/locations/l/operations/op-1',
    });
    expect(value.scopes).toEqual([...GENERIC_PRESET.defaultScopes]);
    expect(value.style).toBe('longrunning');
  });
});

describe('scopes the poller asks for (the validated registration)', () => {
  it.each(SERVICE_PRESETS.map(preset => [preset.hosts[0], preset] as const))(
    '%s: the preset default',
    (host, preset) => {
      const value = accepted({service: host, name: REAL_NAMES[host][0]});
      expect(value.scopes).toEqual([...preset.defaultScopes]);
    },
  );

  it('a registration may narrow the scopes to a subset of the accepted list', () => {
    const firestore = accepted({
      service: 'firestore.googleapis.com',
      name: REAL_NAMES['firestore.googleapis.com'][0],
      scopes: [`${AUTH}datastore`],
    });
    expect(firestore.scopes).toEqual([`${AUTH}datastore`]);

    const workspace = accepted({
      operation: 'https://workspaceevents.googleapis.com/v1beta/operations/abc',
      scopes: [`${AUTH}chat.spaces.readonly`, `${AUTH}meetings.space.readonly`],
      subject: 'alice@example.com',
    });
    expect(workspace.scopes).toEqual([
      `${AUTH}chat.spaces.readonly`,
      `${AUTH}meetings.space.readonly`,
    ]);
    expect(workspace.subject).toBe('alice@example.com');
  });

  it('a scope the service does not accept is refused', () => {
    expect(
      rejected({
        operation:
          'https://workspaceevents.googleapis.com/v1beta/operations/abc',
        scopes: [CLOUD_PLATFORM],
      }),
    ).toEqual([
      {field: 'scopes', message: expect.stringContaining(CLOUD_PLATFORM)},
    ]);
    expect(
      rejected({
        service: 'apigateway.googleapis.com',
        name: REAL_NAMES['apigateway.googleapis.com'][0],
        scopes: [CLOUD_PLATFORM, `${AUTH}datastore`],
      }),
    ).toEqual([
      {field: 'scopes', message: expect.stringContaining('datastore')},
    ]);
  });
});
