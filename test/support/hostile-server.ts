/**
 * A stand-in operations API for answers no well-behaved API gives: bodies sent byte for byte as given (not
 * JSON-encoded by the server), bodies that never end, bodies that trickle in a byte at a time. What each
 * operation answers is a function of its name and the time, so a suite can mix good operations among hostile
 * ones. Requests are `GET /{version}/{name}` with a one-segment version, as the poller sends for the hosts
 * ENDPOINT_OVERRIDES points here.
 */
import {createServer, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';

/** One answer. */
export type HostileReply =
  /** `body` exactly as given: text or bytes. */
  | {kind: 'raw'; status: number; body: string | Buffer}
  /** A 200 whose body starts as JSON and never ends: `chunkBytes` at a time, as fast as the socket takes them. */
  | {kind: 'endless'; chunkBytes?: number}
  /** A 200 whose body comes one byte every `everyMs`, for ever. */
  | {kind: 'trickle'; everyMs: number};

/** What the server answers for an operation name at a time (epoch ms). */
export type Answering = (name: string, now: number) => HostileReply;

/** A loopback server answering as `answering` says. */
export class HostileServer {
  /** Requests received per operation name. */
  readonly requests = new Map<string, number>();
  private readonly open = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    private answering: Answering,
  ) {
    server.on('request', (req, res) => {
      const name = decodeURIComponent((req.url ?? '/').split('?')[0])
        .split('/')
        .slice(2)
        .join('/');
      this.requests.set(name, (this.requests.get(name) ?? 0) + 1);
      this.reply(res, this.answering(name, Date.now()));
    });
  }

  /** Starts a server on a free loopback port. */
  static async start(answering: Answering): Promise<HostileServer> {
    const hostile = new HostileServer(createServer(), answering);
    await new Promise<void>(resolve =>
      hostile.server.listen(0, '127.0.0.1', resolve),
    );
    return hostile;
  }

  /** `http://127.0.0.1:PORT`. */
  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Answers as `answering` says from now on. */
  answer(answering: Answering): void {
    this.answering = answering;
  }

  /** Closes the server and every body still being sent. */
  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    const closed = new Promise<void>(resolve =>
      this.server.close(() => resolve()),
    );
    this.server.closeAllConnections();
    await closed;
  }

  private reply(res: ServerResponse, reply: HostileReply): void {
    if (reply.kind === 'raw') {
      res.writeHead(reply.status, {'content-type': 'application/json'});
      res.end(reply.body);
      return;
    }
    res.writeHead(200, {'content-type': 'application/json'});
    res.write('{"name": "');
    this.open.add(res);
    const chunk =
      reply.kind === 'endless' ? 'x'.repeat(reply.chunkBytes ?? 65_536) : 'x';
    const send = () => {
      if (res.destroyed) return;
      // Endless: as fast as the socket drains; trickling: one byte a period.
      if (reply.kind === 'endless') {
        if (res.write(chunk)) setImmediate(send);
        else res.once('drain', send);
      } else {
        res.write(chunk);
        setTimeout(send, reply.everyMs);
      }
    };
    res.on('close', () => this.open.delete(res));
    send();
  }
}
