/**
 * A stand-in for Google APIs' `operations.get`, so the poller can run against loopback HTTP with the
 * failure modes real APIs show (errors, throttling with Retry-After, redirects, hangs) on demand.
 *
 * Requests are `GET /{version}/{name}`, where the version is one segment (`v1`) or two (`compute/v1`); the
 * name is found by dropping the first segment, then the first two. Times in a behaviour (`afterMs`) count
 * from `define()`, nested ones too. Compute-style operations (`status: 'DONE'`) can be served with
 * `{kind: 'status', status: 200, body}`. With a `resolve` option, names nobody defined are defined on the
 * fly (the local stack's sandbox works that way).
 *
 * `GET /{version}/{parent}/operations` is `ListOperations`: the defined operations directly under the parent, in the
 * order they were defined, {@link FakeOperationsServerOptions.listPageSize} per page, paged with `pageToken` and
 * `nextPageToken` as Google APIs page (the token is opaque to the caller). `filter` is recorded, not applied.
 */
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {
  listPage,
  listedParent,
  type Reply,
  type Responder,
} from './fake-list-operations';

type Json = Record<string, unknown>;

/** What the fake answers for one operation name. */
export type Behavior =
  | {kind: 'finish'; afterMs: number; response?: Json; metadata?: Json}
  | {
      kind: 'fail';
      afterMs: number;
      error: {code: number; message: string; details?: unknown[]};
      metadata?: Json;
    }
  | {kind: 'done-empty'; afterMs: number; metadata?: Json}
  | {kind: 'never'; metadata?: Json}
  | {
      kind: 'status';
      status: number;
      body?: unknown;
      headers?: Record<string, string>;
    }
  | {
      kind: 'retry-after';
      status: 429 | 503;
      retryAfterSeconds: number;
      then?: Behavior;
      times?: number;
    }
  | {kind: 'redirect'; location: string; status?: 301 | 302 | 307 | 308}
  | {kind: 'hang'}
  | {kind: 'sequence'; steps: Behavior[]}
  /** In-process use (the benchmark): the Operation answered to a request arriving at `now` (`Date.now()`). */
  | {kind: 'computed'; operation: (now: number) => Json};

/** Server-wide throttling for storm tests. */
export interface Chaos {
  /** Chance, 0 to 1, that a request is answered with a throttling status instead of its behaviour. */
  probability: number;
  retryAfterSeconds: number;
  statuses?: (429 | 503)[];
}

/** A latency drawn per request from a log-normal with this median and 99th percentile. */
export interface LatencyDistribution {
  medianMs: number;
  p99Ms: number;
}

/** The standard normal's 99th percentile. */
const Z99 = 2.3263478740408408;

/** One answer's delay: `latency` itself, or a draw from its log-normal (Box-Muller on `random`). */
export function drawLatency(
  latency: number | LatencyDistribution,
  random: () => number,
): number {
  if (typeof latency === 'number') return latency;
  const sigma = Math.log(latency.p99Ms / latency.medianMs) / Z99;
  const normal =
    Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return latency.medianMs * Math.exp(sigma * normal);
}

/** One request the fake received. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** The defined operation name the path resolved to; absent for unknown names. */
  name?: string;
  authorization?: string;
  host?: string;
  /** `Date.now()` at arrival. */
  at: number;
  /** The HTTP status answered; 0 while unanswered (hanging or delayed). */
  status: number;
  retryAfterSeconds?: number;
}

/** Options of {@link FakeOperationsServer.start}. */
export interface FakeOperationsServerOptions {
  /** Delay before every answer. */
  latencyMs?: number;
  /** Seed of the chaos PRNG, so a storm is the same from run to run (given the same request order). */
  seed?: number;
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /**
   * The behaviour of a name no definition matches, asked on the first GET for it with each candidate name in
   * turn (see the file header); the first answer is {@link FakeOperationsServer.define}d then, so its clock
   * starts at that first poll. `undefined` leaves the name unknown (404). Called again after a reset.
   */
  resolve?: (name: string) => Behavior | undefined;
  /** Operations per `ListOperations` page; 2 unless set, so a few operations already make several pages. */
  listPageSize?: number;
}

const CANONICAL: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The JSON error body Google APIs send with an error status. */
export function googleError(
  status: number,
  message = `Fake error ${status}.`,
): Json {
  return {
    error: {code: status, message, status: CANONICAL[status] ?? 'UNKNOWN'},
  };
}

/** A small seedable PRNG (mulberry32): Math.random cannot be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function throttled(status: number, retryAfterSeconds: number): Reply {
  const message = status === 429 ? 'Quota exceeded.' : 'Unavailable.';
  const headers = {'Retry-After': String(retryAfterSeconds)};
  return {status, body: googleError(status, message), headers};
}

const PROGRESS = 'type.googleapis.com/opwatch.test.Progress';
const EMPTY = {'@type': 'type.googleapis.com/google.protobuf.Empty'};

/** Turns a behaviour into a function of time, holding its counters (retry-after, sequence) in closures. */
function compile(b: Behavior, name: string, definedAt: number): Responder {
  const operation =
    (afterMs: number, final: Json, metadata?: Json): Responder =>
    now => {
      const elapsed = now - definedAt;
      const done = elapsed >= afterMs;
      const percent = done ? 100 : Math.floor((elapsed / afterMs) * 100);
      const meta = metadata ?? {'@type': PROGRESS, progressPercent: percent};
      const body = {name, metadata: meta, done, ...(done ? final : {})};
      return {status: 200, body};
    };
  switch (b.kind) {
    case 'finish':
      return operation(b.afterMs, {response: b.response ?? EMPTY}, b.metadata);
    case 'fail':
      return operation(b.afterMs, {error: b.error}, b.metadata);
    case 'done-empty':
      return operation(b.afterMs, {}, b.metadata);
    case 'never':
      return operation(Infinity, {}, b.metadata);
    case 'computed':
      return now => ({status: 200, body: {...b.operation(now), name}});
    case 'status':
      return () => ({
        status: b.status,
        body: b.body ?? (b.status >= 400 ? googleError(b.status) : {}),
        headers: b.headers,
      });
    case 'retry-after': {
      const then = b.then && compile(b.then, name, definedAt);
      let served = 0;
      return now => {
        if (!then || b.times === undefined || served < b.times) {
          served++;
          return throttled(b.status, b.retryAfterSeconds);
        }
        return then(now);
      };
    }
    case 'redirect':
      return () => ({
        status: b.status ?? 302,
        body: {},
        headers: {Location: b.location},
      });
    case 'hang':
      return () => ({status: 0, hang: true});
    case 'sequence': {
      if (b.steps.length === 0)
        throw new Error('A sequence needs at least one step.');
      const steps = b.steps.map(s => compile(s, name, definedAt));
      let next = 0;
      return now => steps[Math.min(next++, steps.length - 1)](now);
    }
  }
}

/** A loopback HTTP server answering `operations.get` as {@link define}d. */
export class FakeOperationsServer {
  /** Every request since start or the last {@link reset}. */
  readonly requests: RecordedRequest[] = [];
  private readonly definitions = new Map<string, Responder>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly random: () => number;
  private chaos: Chaos | undefined;
  private latencyMs: number | LatencyDistribution;
  private serverErrorRate = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: FakeOperationsServerOptions,
  ) {
    this.latencyMs = options.latencyMs ?? 0;
    this.random = mulberry32(options.seed ?? 0x6f70);
    server.on('request', (req, res) => this.handle(req, res));
  }

  /** Starts a server on 127.0.0.1 and `options.port`, or a free port. */
  static async start(
    options: FakeOperationsServerOptions = {},
  ): Promise<FakeOperationsServer> {
    const fake = new FakeOperationsServer(createServer(), options);
    // A fixed port may be taken: reject instead of leaving an unhandled 'error' event.
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(options.port ?? 0, '127.0.0.1', () => {
        fake.server.off('error', reject);
        resolve();
      });
    });
    return fake;
  }

  /** `127.0.0.1:PORT`. */
  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** `http://127.0.0.1:PORT`. */
  get baseUrl(): string {
    return `http://${this.host}`;
  }

  /** Sets (or replaces, restarting its clock and counters) what `name` answers. */
  define(name: string, behavior: Behavior): void {
    const bare = name.replace(/^\/+/, '');
    this.definitions.set(bare, compile(behavior, bare, Date.now()));
  }

  /** Answers a share of all requests with 429 or 503 and Retry-After; `undefined` turns it off. */
  setChaos(chaos: Chaos | undefined): void {
    this.chaos = chaos;
  }

  /** Delay before every answer from now on: fixed, or drawn per request from a log-normal. */
  setLatency(latency: number | LatencyDistribution): void {
    this.latencyMs = latency;
  }

  /**
   * From now on, answer this share (0 to 1) of requests with a 500 or a 503 and no Retry-After, as a backend
   * failing now and then does, instead of their behaviour; 0 turns it off.
   */
  setServerErrors(rate: number): void {
    this.serverErrorRate = rate;
  }

  /** The requests that resolved to `name`. */
  requestsFor(name: string): RecordedRequest[] {
    const bare = name.replace(/^\/+/, '');
    return this.requests.filter(r => r.name === bare);
  }

  /** Forgets definitions, records and chaos; latency goes back to the start option. */
  reset(): void {
    this.definitions.clear();
    this.requests.length = 0;
    this.chaos = undefined;
    this.serverErrorRate = 0;
    this.latencyMs = this.options.latencyMs ?? 0;
  }

  /** Closes the server, dropping keep-alive connections and unanswered requests. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>(resolve =>
      this.server.close(() => resolve()),
    );
    this.server.closeAllConnections();
    await closed;
  }

  private resolve(pathname: string, method: string): string | undefined {
    let decoded = pathname;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      // A malformed escape cannot name a defined operation; the raw path then simply matches nothing.
    }
    const segments = decoded.split('/').slice(1);
    const candidates = [
      segments.slice(1).join('/'),
      segments.slice(2).join('/'),
    ];
    const defined = candidates.find(n => this.definitions.has(n));
    const fallback = this.options.resolve;
    // Only a GET starts a clock: a stray POST must not make an operation look older at its first poll.
    if (defined !== undefined || !fallback || method !== 'GET') return defined;
    for (const candidate of candidates) {
      if (candidate === '') continue;
      const behavior = fallback(candidate);
      if (behavior) {
        this.define(candidate, behavior);
        return candidate.replace(/^\/+/, '');
      }
    }
    return undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    const [pathname, search = ''] = path.split('?');
    const parent =
      req.method === 'GET'
        ? listedParent(pathname, this.definitions.keys())
        : undefined;
    const name =
      parent !== undefined
        ? `${parent}/operations`
        : this.resolve(pathname, req.method ?? '');
    const record: RecordedRequest = {
      method: req.method ?? '',
      path,
      at: Date.now(),
      status: 0,
    };
    if (name !== undefined) record.name = name;
    if (req.headers.authorization)
      record.authorization = req.headers.authorization;
    if (req.headers.host) record.host = req.headers.host;
    this.requests.push(record);

    const reply =
      parent !== undefined && !this.chaos
        ? listPage({
            definitions: this.definitions,
            parent,
            query: new URLSearchParams(search),
            now: record.at,
            pageSize: this.options.listPageSize ?? 2,
          })
        : this.decide(record);
    if (reply.hang) return;
    const send = () => {
      const headers = {...reply.headers};
      const retryAfter = Object.entries(headers).find(
        ([k]) => k.toLowerCase() === 'retry-after',
      );
      if (retryAfter) record.retryAfterSeconds = Number(retryAfter[1]);
      record.status = reply.status;
      res.writeHead(reply.status, {
        'Content-Type': 'application/json; charset=UTF-8',
        ...headers,
      });
      res.end(JSON.stringify(reply.body ?? {}));
    };
    const latencyMs = this.nextLatency();
    if (latencyMs <= 0) return send();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      send();
    }, latencyMs);
    this.timers.add(timer);
  }

  private nextLatency(): number {
    return drawLatency(this.latencyMs, this.random);
  }

  private decide({method, name, path, at}: RecordedRequest): Reply {
    if (method !== 'GET') {
      return {
        status: 405,
        body: googleError(405, `Method ${method} not allowed.`),
        headers: {Allow: 'GET'},
      };
    }
    const chaos = this.chaos;
    if (chaos && this.random() < chaos.probability) {
      const statuses = chaos.statuses?.length ? chaos.statuses : [429, 503];
      return throttled(
        statuses[Math.floor(this.random() * statuses.length)],
        chaos.retryAfterSeconds,
      );
    }
    if (this.serverErrorRate > 0 && this.random() < this.serverErrorRate) {
      const status = this.random() < 0.5 ? 500 : 503;
      return {status, body: googleError(status)};
    }
    const responder =
      name === undefined ? undefined : this.definitions.get(name);
    return responder
      ? responder(at)
      : {status: 404, body: googleError(404, `Operation not found: ${path}`)};
  }
}
