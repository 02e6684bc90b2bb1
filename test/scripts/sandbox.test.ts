import {freePort} from '../../scripts/lib/ports';
import type {AuditEntry} from '../../scripts/lib/audit-entry';
import {
  SANDBOX_HOSTS,
  sandboxBehavior,
  sandboxCompletionEntry,
  sandboxEndpointOverrides,
  startSandbox,
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

describe('completion entries', () => {
  it('names the operation as the service whose name patterns fit, for services with completion events', () => {
    expect(
      sandboxCompletionEntry('projects/p/databases/(default)/operations/A'),
    ).toMatchObject({
      operation: {
        id: 'projects/p/databases/(default)/operations/A',
        last: true,
      },
      protoPayload: {serviceName: 'firestore.googleapis.com'},
    });
    expect(
      sandboxCompletionEntry('projects/p/locations/global/operations/B'),
    ).toMatchObject({protoPayload: {serviceName: 'apigateway.googleapis.com'}});
    // Workspace Events writes no Cloud Audit Logs completion entries.
    expect(sandboxCompletionEntry('operations/demo')).toBeUndefined();
  });

  it('announces a finishing operation when it ends, timed from its first poll', async () => {
    const entries: AuditEntry[] = [];
    const sandbox = await startSandbox({
      port: await freePort(),
      projectId: 'demo-opwatch',
      operationMs: 300,
      log: () => {},
      onCompleted: entry => entries.push(entry),
    });
    try {
      const name = 'projects/p/databases/(default)/operations/ends';
      const polled = Date.now();
      await fetch(`${sandbox.operationsApi.baseUrl}/v1/${name}`);
      await fetch(`${sandbox.operationsApi.baseUrl}/v1/operations/never-1`);
      expect(entries).toHaveLength(0);
      await new Promise(resolve => setTimeout(resolve, 600));
      expect(entries.map(entry => entry.operation.id)).toEqual([name]);
      expect(Date.parse(String(entries[0].timestamp))).toBeGreaterThanOrEqual(
        polled + 250,
      );
    } finally {
      await sandbox.stop();
    }
  });

  it('lists the operations started under a parent, for a watch: an operation starts at its first GET', async () => {
    const sandbox = await startSandbox({
      port: await freePort(),
      projectId: 'demo-opwatch',
      operationMs: 300,
      log: () => {},
    });
    try {
      const parent = 'projects/demo-opwatch/databases/(default)';
      const base = `${sandbox.operationsApi.baseUrl}/v1/${parent}`;
      const list = async () =>
        (await (await fetch(`${base}/operations`)).json()) as {
          operations: {name: string; done: boolean}[];
        };
      expect((await list()).operations).toEqual([]);
      await fetch(`${base}/operations/export-1`);
      const [started] = (await list()).operations;
      expect(started).toMatchObject({
        name: `${parent}/operations/export-1`,
        done: false,
      });
      await new Promise(resolve => setTimeout(resolve, 400));
      expect((await list()).operations[0].done).toBe(true);
    } finally {
      await sandbox.stop();
    }
  });
});
