/**
 * The logging-filter reader the monitoring test relies on: what it matches and refuses, so that a filter it passes
 * is one Cloud Logging would match the same way.
 */
import {entryOf, extractedPath, parseFilter, valueAt} from './logging-filter';

const entry = entryOf(
  {
    severity: 'ERROR',
    message: 'tick failed',
    'logging.googleapis.com/trace': 'projects/p/traces/t',
    shard: 0,
    failedInARow: 3,
    audit: {action: 'notify', outcome: 'poll_error', lagMs: 1200},
  },
  'opwatch-poll',
);

describe('a Cloud Logging filter', () => {
  it('takes severity and the trace out of the payload, as Cloud Logging does', () => {
    expect(entry.severity).toBe('ERROR');
    expect(entry.trace).toBe('projects/p/traces/t');
    expect(entry.jsonPayload).not.toHaveProperty('severity');
    expect(valueAt(entry, 'jsonPayload.audit.lagMs')).toBe(1200);
  });

  it.each([
    [
      'resource.type="cloud_run_revision" AND jsonPayload.failedInARow>=3',
      true,
    ],
    ['jsonPayload.failedInARow>=4', false],
    ['severity>=ERROR', true],
    ['severity>=CRITICAL', false],
    ['jsonPayload.audit.outcome=("undeliverable" OR "poll_error")', true],
    ['NOT jsonPayload.audit.outcome=("created" OR "existing")', true],
    ['jsonPayload.audit.outcome="succeeded" OR jsonPayload.shard=0', true],
    [
      'resource.labels.service_name="opwatch-poll"\njsonPayload.audit.action="notify"',
      true,
    ],
    ['jsonPayload.audit.lagMS>=0', false],
    ['jsonPayload.audit:*', true],
    ['-(jsonPayload.shard=0)', false],
  ])('%s: %s', (filter, expected) => {
    expect(parseFilter(filter).matches(entry)).toBe(expected);
  });

  it('names the fields it reads, and refuses what it cannot read', () => {
    expect(
      parseFilter(
        'jsonPayload.a.b="x" AND (severity>=ERROR OR jsonPayload.c:*)',
      ).fields,
    ).toEqual(['jsonPayload.a.b', 'severity', 'jsonPayload.c']);
    expect(() => parseFilter('jsonPayload.a=~"x"')).toThrow();
    expect(() => parseFilter('jsonPayload.a="x" )')).toThrow();
    expect(() => parseFilter('(jsonPayload.a="x"')).toThrow();
    expect(extractedPath('EXTRACT(jsonPayload.audit.lagMs)')).toBe(
      'jsonPayload.audit.lagMs',
    );
    expect(() =>
      extractedPath('REGEXP_EXTRACT(jsonPayload.a, "(x)")'),
    ).toThrow();
  });
});
