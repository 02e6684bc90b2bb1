/**
 * Request bodies bounded while they stream, before the Functions Framework reads them, before authentication and
 * before parsing.
 *
 * The framework parses every body itself before calling a function, with body-parser at a fixed 1024 MB limit and
 * no option to change it (server.js of @google-cloud/functions-framework 5), inflating compressed bodies on the
 * way: four unauthenticated 256 MiB uploads took the registration function to a 1.9 GiB peak before any check.
 * So each function target is given a limit ({@link limitBody}), and the framework's `getServer` is wrapped to put
 * a gate in front of the Express app of the server it builds for that target ({@link installBodyLimits}):
 *
 * - a `Content-Length` over the limit answers 413 at once, without reading the body;
 * - a body without one (chunked) is counted as it arrives and answered 413 the moment it passes the limit; the
 *   rest is never buffered, since the socket is no longer read;
 * - a compressed body (`Content-Encoding` other than identity) answers 415: its size says nothing of what it
 *   inflates to.
 *
 * Either answer closes the connection, so a client that keeps sending wastes only its own bandwidth.
 */
import {dirname, join} from 'node:path';
import type {IncomingMessage, Server, ServerResponse} from 'node:http';
import {errorBody} from './responses';

/** The largest body of the registration API and of the poll target. */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * The largest body of the completions target: a Cloud Logging entry is at most 256 KB, and a Pub/Sub push carries
 * it in base64, a third larger, in an envelope.
 */
export const MAX_EVENT_BODY_BYTES = 512 * 1024;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
type GetServer = (userFunction: object, options: object) => Server;

/** The limits of the function targets, by the function registered with the framework. */
const limits = new WeakMap<object, number>();
const PATCHED = Symbol.for('opwatch.bodyLimits');

/** Gives the function target `handler` a body limit of `maxBytes`; returns `handler`. */
export function limitBody<Handler extends object>(
  maxBytes: number,
  handler: Handler,
): Handler {
  limits.set(handler, maxBytes);
  return handler;
}

function refuse(res: ServerResponse, code: number, message: string): void {
  if (res.headersSent) return;
  res.writeHead(code, {
    'content-type': 'application/json; charset=utf-8',
    connection: 'close',
  });
  res.end(JSON.stringify(errorBody(code, message)));
}

/**
 * Lets `req` through when its body may fit `maxBytes`, and keeps counting it as it streams; otherwise answers.
 * @returns false when it answered.
 */
function admit(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
): boolean {
  const tooLarge = `the body is over ${maxBytes} bytes`;
  const declared = Number(req.headers['content-length'] ?? 0);
  const encoding = req.headers['content-encoding'] ?? 'identity';
  const hasBody =
    declared > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && encoding.toLowerCase() !== 'identity') {
    refuse(res, 415, 'send the body uncompressed (Content-Encoding: identity)');
    return false;
  }
  if (declared > maxBytes) {
    refuse(res, 413, tooLarge);
    return false;
  }
  // Node's HTTP parser hands each piece of the body to push(): counting there sees the body as it streams, without
  // consuming it in place of the framework's parser.
  let received = 0;
  const push = req.push;
  req.push = function (chunk: unknown, bufferEncoding?: BufferEncoding) {
    if (chunk !== null) {
      received += (chunk as Buffer).length;
      if (received > maxBytes) {
        refuse(res, 413, tooLarge);
        // Not pushed, and false: the parser stops reading the socket, so nothing more is buffered.
        return false;
      }
    }
    return push.call(this, chunk, bufferEncoding);
  };
  return true;
}

/**
 * Wraps the framework's `getServer`, which its main module and its testing module call for each target, so each
 * server gates bodies by its target's limit ({@link MAX_BODY_BYTES} unless {@link limitBody} says otherwise).
 * Idempotent.
 */
export function installBodyLimits(): void {
  // The framework exports only its entry and testing modules; server.js is reached by its path, the module the
  // framework's own main and testing modules hold.
  const frameworkDir = dirname(
    require.resolve('@google-cloud/functions-framework'),
  );
  const server = require(join(frameworkDir, 'server.js')) as {
    getServer: GetServer;
    [PATCHED]?: true;
  };
  if (server[PATCHED]) return;
  const getServer = server.getServer;
  server.getServer = (userFunction, options) => {
    const httpServer = getServer(userFunction, options);
    const maxBytes = limits.get(userFunction) ?? MAX_BODY_BYTES;
    const apps = httpServer.listeners('request') as RequestListener[];
    httpServer.removeAllListeners('request');
    httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!admit(req, res, maxBytes)) return;
      for (const app of apps) app(req, res);
    });
    return httpServer;
  };
  server[PATCHED] = true;
}
