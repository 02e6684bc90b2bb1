import {
  SANDBOX_HOSTS,
  sandboxBehavior,
  sandboxEndpointOverrides,
} from '../../scripts/lib/sandbox';

describe('sandboxBehavior', () => {
  it.each([
    ['projects/p/databases/(default)/operations/ABC', 'finish'],
    ['projects/p/databases/(default)/operations/Fail-1', 'fail'],
    ['operations/never-ends', 'never'],
    ['projects/p/locations/l/operations/missing-9', 'status'],
    ['projects/p/locations/fail/operations/ok', 'finish'],
  ])('reads how %s ends from its last segment: %s', (name, kind) => {
    expect(sandboxBehavior(name, 15_000).kind).toBe(kind);
  });

  it('times finishing and failing operations by the setting', () => {
    expect(sandboxBehavior('operations/a', 3000)).toMatchObject({
      afterMs: 3000,
    });
    expect(sandboxBehavior('operations/fail', 3000)).toMatchObject({
      afterMs: 3000,
      error: {code: 9},
    });
  });
});

describe('sandboxEndpointOverrides', () => {
  it('sends the seed API hosts to the sandbox, the user’s own overrides winning', () => {
    const overrides = sandboxEndpointOverrides(
      '{"apigateway.googleapis.com":"http://127.0.0.1:9000"}',
      'http://127.0.0.1:8082',
    );
    for (const host of SANDBOX_HOSTS.filter(h => !h.startsWith('apigateway'))) {
      expect(overrides[host]).toBe('http://127.0.0.1:8082');
    }
    expect(overrides['apigateway.googleapis.com']).toBe(
      'http://127.0.0.1:9000',
    );
  });

  it('refuses overrides that are not a JSON object', () => {
    expect(() =>
      sandboxEndpointOverrides('[1]', 'http://127.0.0.1:8082'),
    ).toThrow('ENDPOINT_OVERRIDES');
  });
});
