import {
  ConfigError,
  POLLER_ENV,
  REGISTRATION_ENV,
  isTrustedHost,
  loadPollerConfig,
  loadRegistrationConfig,
} from '../../functions/config';

const minimal = {
  GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
  DEFAULT_TOPIC: 'notifications',
};

describe('loadRegistrationConfig', () => {
  it('applies the defaults', () => {
    expect(loadRegistrationConfig(minimal)).toEqual({
      projectId: 'demo-opwatch',
      collection: 'operations',
      endpointOverrides: new Map(),
      retentionMs: 30 * 86_400_000,
      defaultTopic: 'projects/demo-opwatch/topics/notifications',
    });
  });

  it('reads endpoint overrides as a host to base URL map', () => {
    const config = loadRegistrationConfig({
      ...minimal,
      ENDPOINT_OVERRIDES: '{"spanner.googleapis.com":"http://127.0.0.1:9020/"}',
    });
    expect(config.endpointOverrides.get('spanner.googleapis.com')).toBe(
      'http://127.0.0.1:9020',
    );
  });

  it.each([
    [{DEFAULT_TOPIC: 'x-topic'}, 'GOOGLE_CLOUD_PROJECT'],
    [{GOOGLE_CLOUD_PROJECT: 'demo-opwatch'}, 'DEFAULT_TOPIC'],
    [{...minimal, DEFAULT_TOPIC: 'goog-x'}, 'DEFAULT_TOPIC'],
    [{...minimal, ENDPOINT_OVERRIDES: '{not json'}, 'ENDPOINT_OVERRIDES'],
    [
      {...minimal, ENDPOINT_OVERRIDES: '{"Spanner.googleapis.com":"http://x"}'},
      'ENDPOINT_OVERRIDES',
    ],
    [
      {...minimal, ENDPOINT_OVERRIDES: '{"s.googleapis.com":"http://x/path"}'},
      'ENDPOINT_OVERRIDES',
    ],
    [{...minimal, RETENTION_DAYS: '-1'}, 'RETENTION_DAYS'],
    [{...minimal, OPERATIONS_COLLECTION: 'a/b'}, 'OPERATIONS_COLLECTION'],
  ])('fails naming the variable: %j', (env, variable) => {
    expect(() => loadRegistrationConfig(env)).toThrow(ConfigError);
    expect(() => loadRegistrationConfig(env)).toThrow(variable);
  });
});

describe('loadPollerConfig', () => {
  it('applies the poll defaults and reads numbers', () => {
    expect(
      loadPollerConfig({GOOGLE_CLOUD_PROJECT: 'demo-opwatch'}),
    ).toMatchObject({
      budgetMs: 60_000,
      concurrency: 32,
      leaseMs: 15_000,
      requestTimeoutMs: 10_000,
      handOverMs: 25_000,
    });
    expect(
      loadPollerConfig({
        GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
        POLL_CONCURRENCY: '8',
      }).concurrency,
    ).toBe(8);
  });

  it.each(['0', '1.5', 'many'])('rejects POLL_CONCURRENCY=%s', value => {
    expect(() =>
      loadPollerConfig({
        GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
        POLL_CONCURRENCY: value,
      }),
    ).toThrow('POLL_CONCURRENCY');
  });

  it('lists the variables each function reads', () => {
    expect(REGISTRATION_ENV).toContain('DEFAULT_TOPIC');
    expect(POLLER_ENV).not.toContain('DEFAULT_TOPIC');
    expect(POLLER_ENV).toContain('POLL_BUDGET_SECONDS');
  });
});

describe('isTrustedHost', () => {
  it.each([
    ['firestore.googleapis.com', true],
    ['us-central1-aiplatform.googleapis.com', true],
    ['googleapis.com', false],
    ['evil.test', false],
    ['firestore.googleapis.com.evil.test', false],
    ['local.test', true],
  ])('%s → %s', (host, trusted) => {
    expect(
      isTrustedHost(host, new Map([['local.test', 'http://127.0.0.1:1']])),
    ).toBe(trusted);
  });
});
