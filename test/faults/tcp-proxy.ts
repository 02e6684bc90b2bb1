/**
 * A TCP proxy that a test can cut and restore, to take a backend away from one client while everyone else keeps
 * it: the poll process reaches the Firestore emulator through it, the test itself goes direct.
 *
 * Cutting it the way a dead server looks (`refuse`: the port stops listening, open connections are reset) leaves
 * the emulator and its data alone, which an emulator restart would not: neither emulator keeps anything.
 * `blackhole` looks like a network partition instead: connections are accepted, or stay open, and nothing
 * comes back.
 */
import {createServer, connect, type Server, type Socket} from 'node:net';
import type {AddressInfo} from 'node:net';

const LOOPBACK = '127.0.0.1';

/** How a cut looks to the client. */
export type CutMode = 'refuse' | 'blackhole';

/** A proxy from a loopback port to `target` (`host:port`). */
export class TcpProxy {
  /** Connections accepted since start. */
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private mode: CutMode | undefined;

  private constructor(
    private readonly target: {host: string; port: number},
    private port: number,
  ) {}

  /** Starts forwarding from a free loopback port to `target`, `host:port`. */
  static async start(target: string): Promise<TcpProxy> {
    const [host, port] = target.split(':');
    const proxy = new TcpProxy({host, port: Number(port)}, 0);
    await proxy.listen();
    return proxy;
  }

  /** `127.0.0.1:PORT`, the value for the client's `*_EMULATOR_HOST`. */
  get host(): string {
    return `${LOOPBACK}:${this.port}`;
  }

  /** Whether traffic flows. */
  get up(): boolean {
    return this.mode === undefined;
  }

  /** Takes the backend away: every open connection is reset, and new ones are refused or left hanging. */
  async cut(mode: CutMode = 'refuse'): Promise<void> {
    this.mode = mode;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    if (mode === 'refuse') await this.close();
  }

  /** Brings the backend back on the same port. */
  async restore(): Promise<void> {
    this.mode = undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    if (!this.server) await this.listen();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await this.close();
  }

  private listen(): Promise<void> {
    const server = createServer(client => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, LOOPBACK, () => {
        server.off('error', reject);
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise(resolve => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.connections++;
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (this.mode === 'blackhole') {
      // Accept, read nothing, answer nothing: the client waits for its own deadline.
      client.pause();
      return;
    }
    const upstream = connect(this.target);
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
