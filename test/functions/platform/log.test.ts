import {
  createLogger,
  redact,
  traceFields,
} from '../../../functions/platform/log';
import {growth} from '../../support/growth';

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

describe('redact in linear time', () => {
  /** Texts that made a pattern rescan the rest of a run from every place a match could start. */
  const adversarial: Record<string, (size: number) => string> = {
    'eyJ-eyJ-…': size => 'eyJ-'.repeat(size / 4),
    'a_-eyJ.…': size => 'a' + 'a_-eyJ.'.repeat(size / 7),
    'eyJ.x-eyJx…': size => 'eyJ.' + 'x-eyJx'.repeat(size / 6),
    'Bearer\\t…': size => ('Bearer' + '\t'.repeat(26)).repeat(size / 32),
    '1//a-…': size => '1//a-'.repeat(size / 5),
    'ya29.…': size => 'ya29.'.repeat(size / 5),
  };

  it.each(Object.keys(adversarial))(
    '%s: four times the text takes at most about four times as long',
    family => {
      const found = growth(size => {
        const text = adversarial[family](size);
        return () => redact(text);
      });
      expect(found.ratio).toBeLessThan(8);
    },
  );

  it('still redacts a JWT after a dash, and all of one whose header holds -eyJ but for that part', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
    expect(redact(`x-${jwt}`)).toBe('x-[redacted]');
    expect(redact(`eyJhdr-${jwt}`)).toBe('eyJhdr-[redacted]');
    expect(redact(`${'eyJ-'.repeat(1000)}`)).toBe('eyJ-'.repeat(1000));
  });
});
