/**
 * Request bodies are bounded while they stream, before authentication and parsing (http/body-limit.ts): on the real
 * Functions Framework, in processes of their own as deployed, with ID tokens on. An oversized body answers 413
 * before authentication (no token is sent: a checked caller would get 401), whether it declares its length, streams
 * chunked or inflates past the limit; the completions target has a limit of its own; and concurrent uploads of
 * 256 MiB leave the process's peak memory where it was.
 */
import {request as httpRequest} from 'node:http';
import {readFileSync} from 'node:fs';
import {gzipSync} from 'node:zlib';
import {
  MAX_BODY_BYTES,
  MAX_EVENT_BODY_BYTES,
} from '../../../functions/http/body-limit';
import {TEST_PROJECT, uniqueName} from '../../support/emulator-env';
import {
  SpawnedFunction,
  functionEnv,
  type StackAddresses,
} from '../../support/poll-process';

const MIB = 1024 * 1024;

let operations: SpawnedFunction;
let completions: SpawnedFunction;

beforeAll(async () => {
  const addresses: StackAddresses = {
    projectId: TEST_PROJECT,
    firestoreHost: process.env.FIRESTORE_EMULATOR_HOST!,
    pubsubHost: process.env.PUBSUB_EMULATOR_HOST!,
    collection: uniqueName('bodies'),
    // Nothing here mints or checks tokens: the bodies are refused before.
    metadataHost: '127.0.0.1:9',
    endpointOverrides: {},
  };
  const env = functionEnv(addresses, {
    DEFAULT_TOPIC: 'notifications',
    ALLOW_UNAUTHENTICATED: 'false',
    FUNCTION_URLS: 'https://opwatch.example/operations',
  });
  [operations, completions] = await Promise.all([
    SpawnedFunction.start({target: 'operations', env}),
    SpawnedFunction.start({target: 'completions', env}),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all([operations?.stop(), completions?.stop()]);
});

interface Upload {
  status: number;
  body: {error?: {code: number; status: string; message: string}};
}

/**
 * POSTs a JSON object of `size` bytes to `target`, written as the connection takes it (never held whole here),
 * with a Content-Length unless `chunked`, or `body` as given. Stops sending once answered, and resolves with the
 * answer.
 */
function upload(
  target: SpawnedFunction,
  size: number,
  options: {
    chunked?: boolean;
    headers?: Record<string, string>;
    body?: Buffer;
  } = {},
): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${target.url}/operations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(!options.chunked && {'content-length': String(size)}),
        ...options.headers,
      },
    });
    let answered = false;
    req.on('response', res => {
      answered = true;
      let text = '';
      res.on('data', chunk => (text += chunk));
      res.on('end', () => {
        resolve({status: res.statusCode ?? 0, body: JSON.parse(text)});
        req.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', error => {
      if (!answered) reject(error);
    });
    if (options.body) return void req.end(options.body);
    // {"filler":"      ...      "}: valid JSON of exactly `size` bytes.
    const [head, tail] = [Buffer.from('{"filler":"'), Buffer.from('"}')];
    const block = Buffer.alloc(64 * 1024, ' ');
    let sent = head.length + tail.length;
    req.write(head);
    const write = (): void => {
      while (sent < size && !req.destroyed && !answered) {
        const piece = block.subarray(0, Math.min(block.length, size - sent));
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', write);
          return;
        }
      }
      if (!req.destroyed && !answered) req.end(tail);
    };
    write();
  });
}

/** The peak resident memory of a process so far, in bytes (VmHWM). */
function peakMemory(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]) * 1024;
}

describe('the registration API', () => {
  it('answers a body that fits with the usual checks: 401 without a token', async () => {
    const answer = await upload(operations, 1000);
    expect(answer.status).toBe(401);
  });

  it.each([
    ['declaring its length', false],
    ['streaming chunked', true],
  ])(
    `answers 413 to a body over ${MAX_BODY_BYTES} bytes %s, before authentication`,
    async (_what, chunked) => {
      const answer = await upload(operations, MAX_BODY_BYTES + 1, {chunked});
      expect(answer.status).toBe(413);
      expect(answer.body.error).toMatchObject({
        code: 413,
        status: 'PAYLOAD_TOO_LARGE',
      });
    },
  );

  it('answers 413 to a compressed body that inflates past the limit, however small it is sent', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * MIB, ' '));
    expect(bomb.length).toBeLessThan(MAX_BODY_BYTES);
    const answer = await upload(operations, bomb.length, {
      body: bomb,
      headers: {'content-encoding': 'gzip'},
    });
    expect(answer.status).toBe(413);
  });

  it('keeps its peak memory flat under four concurrent 256 MiB uploads', async () => {
    // Warm: every path the uploads take has run once, so what follows measures the uploads alone.
    await upload(operations, 1000);
    await upload(operations, MIB);
    await upload(operations, MIB, {chunked: true});
    const before = peakMemory(operations.pid!);
    const answers = await Promise.all([
      upload(operations, 256 * MIB),
      upload(operations, 256 * MIB),
      upload(operations, 256 * MIB, {chunked: true}),
      upload(operations, 256 * MIB, {chunked: true}),
    ]);
    expect(answers.map(answer => answer.status)).toEqual([413, 413, 413, 413]);
    // Buffered, one upload alone would add 256 MiB. What does move the peak is the chunks read off and dropped
    // while they wait for the garbage collector: tens of MiB, the same for uploads four times as large.
    expect(peakMemory(operations.pid!) - before).toBeLessThan(96 * MIB);
    expect(operations.unexpectedExits).toEqual([]);
  });
});

describe('the completions target', () => {
  const event = {
    'ce-specversion': '1.0',
    'ce-id': 'big',
    'ce-source': '//cloudaudit.googleapis.com/projects/demo',
    'ce-type': 'google.cloud.audit.log.v1.written',
  };

  it(`takes bodies up to its own limit, ${MAX_EVENT_BODY_BYTES} bytes, and answers 413 beyond`, async () => {
    // A body over the registration API's limit reaches the handler, which acknowledges what it cannot read.
    const within = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({filler: 'x'.repeat(4 * MAX_BODY_BYTES)});
      const req = httpRequest(completions.url, {
        method: 'POST',
        headers: {...event, 'content-type': 'application/json'},
      });
      req.on('response', res => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(within).toBe(204);
    const beyond = await upload(completions, MAX_EVENT_BODY_BYTES + 1, {
      headers: event,
    });
    expect(beyond.status).toBe(413);
  });
});
