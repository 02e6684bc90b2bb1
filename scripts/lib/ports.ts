/**
 * Loopback ports: finding a free one and making sure a chosen one is free before a server needs it.
 */
import {connect, createServer} from 'node:net';

/** Loopback only: nothing the local tools start is meant to be reachable from other machines. */
export const LOOPBACK = '127.0.0.1';

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({host: LOOPBACK, port}, () => {
      const address = server.address();
      const bound =
        typeof address === 'object' && address ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A port that was free a moment ago. Another process may take it before the caller binds it; callers that spawn a
 * server on it should treat "address in use" as a reason to retry, not as a bug.
 */
export function freePort(): Promise<number> {
  return listenOnce(0);
}

/** Whether nothing listens on `port` on the loopback address. */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    await listenOnce(port);
    return true;
  } catch {
    return false;
  }
}

/**
 * Throws unless `port` is free, with `hint` (e.g. which variable chooses another port) in the message.
 * Checking first matters for servers we poll for readiness: a stale server on the port would answer and look ready.
 */
export async function assertPortFree(
  port: number,
  what: string,
  hint?: string,
): Promise<void> {
  if (!(await isPortFree(port))) {
    throw new Error(
      `${what}: port ${port} on ${LOOPBACK} is already in use${hint ? `; ${hint}` : ''}`,
    );
  }
}

/** Parses a port from an environment variable, or returns `fallback` when the variable is unset or empty. */
export function portFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(
      `${name} must be a TCP port (1-65535), not ${JSON.stringify(text)}`,
    );
  }
  return port;
}

/** True when something accepts TCP connections on `port`: a connect, not an HTTP request, which would run a function. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect({host: LOOPBACK, port});
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
