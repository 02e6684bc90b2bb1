import {
  createLogger,
  redact,
  traceFields,
} from '../../../functions/platform/log';

describe('createLogger', () => {
  it('writes one JSON line per entry with severity, message and fields', () => {
    const lines: string[] = [];
    const log = createLogger(line => lines.push(line)).child({
      component: 'poller',
    });
    log.warn('slow', {ms: 12});
    log.info('tick', {tick: {polled: 3}});
    expect(lines.map(line => JSON.parse(line))).toEqual([
      {severity: 'WARNING', message: 'slow', component: 'poller', ms: 12},
      {
        severity: 'INFO',
        message: 'tick',
        component: 'poller',
        tick: {polled: 3},
      },
    ]);
  });

  it('scrubs anything shaped like a token', () => {
    const lines: string[] = [];
    createLogger(line => lines.push(line)).error(
      'failed with Bearer ya29.a0AfB_secret-token',
      {
        idToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl',
      },
    );
    expect(lines[0]).not.toMatch(/ya29|eyJ|secret-token/);
    expect(lines[0]).toContain('[redacted]');
  });
});

describe('redact', () => {
  it('leaves ordinary text alone', () => {
    expect(redact('polled projects/p/operations/ABC: HTTP 404')).toBe(
      'polled projects/p/operations/ABC: HTTP 404',
    );
  });
});

describe('traceFields', () => {
  it('reads X-Cloud-Trace-Context', () => {
    expect(
      traceFields(
        {'x-cloud-trace-context': '105445aa7843bc8bf206b12000100000/1;o=1'},
        'p',
      ),
    ).toEqual({
      'logging.googleapis.com/trace':
        'projects/p/traces/105445aa7843bc8bf206b12000100000',
      'logging.googleapis.com/spanId': '1',
    });
  });

  it('reads W3C traceparent', () => {
    expect(
      traceFields(
        {
          traceparent:
            '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        },
        'p',
      ),
    ).toEqual({
      'logging.googleapis.com/trace':
        'projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736',
      'logging.googleapis.com/spanId': '00f067aa0ba902b7',
    });
  });

  it('adds nothing without a trace header', () => {
    expect(traceFields({'x-cloud-trace-context': 'garbage'}, 'p')).toEqual({});
  });
});
