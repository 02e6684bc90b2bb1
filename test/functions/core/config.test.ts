import {
  COMPLETIONS_ENV,
  loadCompletionsConfig,
  ConfigError,
  POLLER_ENV,
  REGISTRATION_ENV,
  isTrustedHost,
  loadPollerConfig,
  loadRegistrationConfig,
} from '../../../functions/core/config';

const minimal = {
  GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
  DEFAULT_TOPIC: 'notifications',
  FUNCTION_URLS: 'https://opwatch.example/operations',
};

describe('loadRegistrationConfig', () => {
  it('applies the defaults', () => {
    expect(loadRegistrationConfig(minimal)).toEqual({
      projectId: 'demo-opwatch',
      collection: 'operations',
      endpointOverrides: new Map(),
      retentionMs: 30 * 86_400_000,
      defaultTopic: 'projects/demo-opwatch/topics/notifications',
      completionEvents: false,
      functionUrls: ['https://opwatch.example/operations'],
      adminPrincipals: [],
      allowUnauthenticated: false,
      maxPendingPerOwner: 10_000,
      shards: 1,
      fanoutTopic: undefined,
      allowlists: {
        projects: new Set(['demo-opwatch']),
        services: expect.arrayContaining([
          'firestore.googleapis.com',
          'workspaceevents.googleapis.com',
          '*-aiplatform.googleapis.com',
        ]),
        topics: ['projects/demo-opwatch/topics/*'],
        subjects: [],
        reservedTopics: new Set(),
      },
    });
  });

  it('reads the shards and the fan-out topic, where a new registration wakes a tick of its shard', () => {
    expect(
      loadRegistrationConfig({
        ...minimal,
        POLL_SHARDS: '4',
        POLL_FANOUT_TOPIC: 'opwatch-poll-fanout',
      }),
    ).toMatchObject({
      shards: 4,
      fanoutTopic: 'projects/demo-opwatch/topics/opwatch-poll-fanout',
    });
    expect(() =>
      loadRegistrationConfig({...minimal, POLL_FANOUT_TOPIC: 'goog-x'}),
    ).toThrow('POLL_FANOUT_TOPIC');
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
    [
      {
        ...minimal,
        ENDPOINT_OVERRIDES: '{"oauth2.googleapis.com":"http://tokens.example"}',
      },
      'ENDPOINT_OVERRIDES',
    ],
    [{...minimal, FUNCTION_URLS: ''}, 'FUNCTION_URLS'],
    [{...minimal, FUNCTION_URLS: 'not a url'}, 'FUNCTION_URLS'],
    [{...minimal, ADMIN_PRINCIPALS: 'root'}, 'ADMIN_PRINCIPALS'],
    [{...minimal, ALLOW_UNAUTHENTICATED: 'yes'}, 'ALLOW_UNAUTHENTICATED'],
    [{...minimal, MAX_PENDING_PER_OWNER: '0'}, 'MAX_PENDING_PER_OWNER'],
  ])('fails naming the variable: %j', (env, variable) => {
    expect(() => loadRegistrationConfig(env)).toThrow(ConfigError);
    expect(() => loadRegistrationConfig(env)).toThrow(variable);
  });
});

describe('tenancy settings', () => {
  it.each([
    'http://127.0.0.1:9020',
    'http://localhost:8080/',
    'http://[::1]:80',
    'https://tokens.example',
  ])('accepts the endpoint override %s (https, or http to loopback)', base => {
    const config = loadRegistrationConfig({
      ...minimal,
      ENDPOINT_OVERRIDES: JSON.stringify({'oauth2.googleapis.com': base}),
    });
    expect(config.endpointOverrides.has('oauth2.googleapis.com')).toBe(true);
  });

  it.each(['http://10.0.0.1:80', 'http://127.0.0.1.example:80'])(
    'refuses http:// to %s, which is not loopback',
    base => {
      expect(() =>
        loadPollerConfig({
          GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
          ENDPOINT_OVERRIDES: JSON.stringify({'s.googleapis.com': base}),
        }),
      ).toThrow(/s.googleapis.com: http:\/\/ is allowed only for loopback/);
    },
  );

  it('reads the lists, and lets ALLOW_UNAUTHENTICATED stand in for FUNCTION_URLS', () => {
    const config = loadRegistrationConfig({
      GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
      DEFAULT_TOPIC: 'notifications',
      ALLOW_UNAUTHENTICATED: 'true',
      WATCH_PROJECTS: ' team-a-prod , team-b-prod,',
      WATCH_SERVICES: 'run.googleapis.com',
      ALLOWED_TOPICS: 'projects/team-a/topics/opwatch-*',
      DELEGATION_SUBJECTS: 'Ops@Example.com,@corp.example',
      ADMIN_PRINCIPALS: 'admin@example.com',
      MAX_PENDING_PER_OWNER: '5',
    });
    expect(config).toMatchObject({
      allowUnauthenticated: true,
      functionUrls: [],
      adminPrincipals: ['admin@example.com'],
      maxPendingPerOwner: 5,
      allowlists: {
        projects: new Set(['team-a-prod', 'team-b-prod']),
        services: ['run.googleapis.com'],
        topics: ['projects/team-a/topics/opwatch-*'],
        subjects: ['ops@example.com', '@corp.example'],
      },
    });
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
      publishGraceMs: 3_600_000,
      handOverMs: 25_000,
    });
    expect(
      loadPollerConfig({GOOGLE_CLOUD_PROJECT: 'demo-opwatch'}),
    ).not.toHaveProperty('deadLetterTopic');
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

  it('runs one shard unless POLL_SHARDS says more, which needs POLL_FANOUT_TOPIC', () => {
    const project = {GOOGLE_CLOUD_PROJECT: 'demo-opwatch'};
    expect(loadPollerConfig(project)).toMatchObject({shards: 1});
    expect(loadPollerConfig(project).fanoutTopic).toBeUndefined();
    expect(
      loadPollerConfig({
        ...project,
        POLL_SHARDS: '4',
        POLL_FANOUT_TOPIC: 'opwatch-poll-fanout',
      }),
    ).toMatchObject({
      shards: 4,
      fanoutTopic: 'projects/demo-opwatch/topics/opwatch-poll-fanout',
    });
    expect(() => loadPollerConfig({...project, POLL_SHARDS: '2'})).toThrow(
      ConfigError,
    );
    expect(() => loadPollerConfig({...project, POLL_SHARDS: '2'})).toThrow(
      'POLL_FANOUT_TOPIC: required when POLL_SHARDS > 1',
    );
  });

  it.each(['0', '1.5', '257', 'two'])('rejects POLL_SHARDS=%s', value => {
    expect(() =>
      loadPollerConfig({
        GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
        POLL_SHARDS: value,
        POLL_FANOUT_TOPIC: 'fanout',
      }),
    ).toThrow('POLL_SHARDS');
  });

  it('rejects a POLL_FANOUT_TOPIC that is no topic name', () => {
    expect(() =>
      loadPollerConfig({
        GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
        POLL_FANOUT_TOPIC: 'projects/x/subscriptions/y',
      }),
    ).toThrow('POLL_FANOUT_TOPIC');
  });

  it.each([
    ['dead', 'projects/demo-opwatch/topics/dead'],
    [
      'projects/other-project/topics/dead',
      'projects/other-project/topics/dead',
    ],
  ])('reads DEAD_LETTER_TOPIC=%s as %s', (topic, full) => {
    expect(
      loadPollerConfig({
        GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
        DEAD_LETTER_TOPIC: topic,
        PUBLISH_GRACE_SECONDS: '60',
      }),
    ).toMatchObject({deadLetterTopic: full, publishGraceMs: 60_000});
  });

  it('rejects a DEAD_LETTER_TOPIC that is no topic', () => {
    expect(() =>
      loadPollerConfig({
        GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
        DEAD_LETTER_TOPIC: 'projects/x/queues/y',
      }),
    ).toThrow('DEAD_LETTER_TOPIC');
  });

  it('lists the variables each function reads', () => {
    expect(REGISTRATION_ENV).toContain('DEFAULT_TOPIC');
    expect(POLLER_ENV).not.toContain('DEFAULT_TOPIC');
    expect(POLLER_ENV).toContain('POLL_BUDGET_SECONDS');
    expect(COMPLETIONS_ENV).toEqual([
      ...POLLER_ENV,
      'COMPLETION_POLL_BUDGET_SECONDS',
    ]);
    expect(REGISTRATION_ENV).toContain('COMPLETION_EVENTS');
  });
});

describe('completion events settings', () => {
  const base = {
    GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
    DEFAULT_TOPIC: 'notifications',
    ALLOW_UNAUTHENTICATED: 'true',
  };

  it('COMPLETION_EVENTS is off unless set to true', () => {
    expect(loadRegistrationConfig(base).completionEvents).toBe(false);
    expect(
      loadRegistrationConfig({...base, COMPLETION_EVENTS: 'true'})
        .completionEvents,
    ).toBe(true);
    expect(() =>
      loadRegistrationConfig({...base, COMPLETION_EVENTS: 'yes'}),
    ).toThrow('COMPLETION_EVENTS');
  });

  it('the completions tick lasts COMPLETION_POLL_BUDGET_SECONDS, 10 s unless set', () => {
    expect(loadCompletionsConfig(base).completionBudgetMs).toBe(10_000);
    expect(
      loadCompletionsConfig({...base, COMPLETION_POLL_BUDGET_SECONDS: '4'})
        .completionBudgetMs,
    ).toBe(4000);
    expect(() =>
      loadCompletionsConfig({...base, COMPLETION_POLL_BUDGET_SECONDS: '0'}),
    ).toThrow('COMPLETION_POLL_BUDGET_SECONDS');
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
