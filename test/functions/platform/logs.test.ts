/**
 * The functions' structured logs as Cloud Logging reads them from stdout: the poll function's one summary line
 * per tick is a JSON entry with severity, message and the tick's counts, joined to the request's trace from
 * `X-Cloud-Trace-Context` (or W3C `traceparent`), and free of the tokens the poller used.
 */
import {getTestServer} from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import {TEST_PROJECT} from '../../support/emulator-env';
import {startStack, type TestStack} from '../../support/stack';
import {captureStdout} from '../../support/stdout';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack.stop();
});

const TRACE_ID = '105445aa7843bc8bf206b12000100000';

describe('the tick summary line', () => {
  it('is INFO with the counts and the trace of X-Cloud-Trace-Context', async () => {
    const name = `projects/p/databases/(default)/operations/logs-${Date.now()}`;
    stack.operationsApi.define(name, {kind: 'finish', afterMs: 0});
    const registered = await stack.register({
      operation: `https://firestore.googleapis.com/v1/${name}`,
    });
    expect(registered.status).toBe(201);

    let answer: request.Response | undefined;
    const lines = await captureStdout(async () => {
      answer = await request(getTestServer('poll'))
        .post('/')
        .set('X-Cloud-Trace-Context', `${TRACE_ID}/12345;o=1`)
        .send({});
    });

    expect(answer!.status).toBe(200);
    const summaries = lines.filter(line => line.message === 'tick');
    expect(summaries).toHaveLength(1);
    const [summary] = summaries;
    expect(summary).toEqual({
      severity: 'INFO',
      message: 'tick',
      'logging.googleapis.com/trace': `projects/${TEST_PROJECT}/traces/${TRACE_ID}`,
      'logging.googleapis.com/spanId': '12345',
      tick: answer!.body,
      // The one shard of POLL_SHARDS=1, as a sharded deployment's lines name theirs.
      shard: 0,
    });
    expect(summary.tick).toMatchObject({
      polled: expect.any(Number),
      succeeded: 1,
      published: 1,
      durationMs: expect.any(Number),
    });
    expect(await stack.pull(1)).toHaveLength(1);

    // The poller's bearer tokens appear in no entry.
    const output = JSON.stringify(lines);
    for (const token of stack.metadata.issuedTokens())
      expect(output).not.toContain(token);
  });

  it('takes the trace from a W3C traceparent header too', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const lines = await captureStdout(() =>
      request(getTestServer('poll'))
        .post('/')
        .set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`)
        .send({}),
    );
    const [summary] = lines.filter(line => line.message === 'tick');
    expect(summary).toMatchObject({
      severity: 'INFO',
      'logging.googleapis.com/trace': `projects/${TEST_PROJECT}/traces/${traceId}`,
      'logging.googleapis.com/spanId': '00f067aa0ba902b7',
    });
  });

  it('has no trace fields without a trace header', async () => {
    const lines = await captureStdout(() =>
      request(getTestServer('poll')).post('/').send({}),
    );
    const [summary] = lines.filter(line => line.message === 'tick');
    expect(summary.severity).toBe('INFO');
    expect(Object.keys(summary)).not.toContain('logging.googleapis.com/trace');
  });
});
