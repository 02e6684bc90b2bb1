/**
 * Request bodies bounded while they stream, before authentication and before parsing.
 *
 * The Functions Framework parses every body itself before calling a function, with body-parser at a fixed 1024 MB
 * limit and no option to change it (server.js of @google-cloud/functions-framework 5): four unauthenticated
 * 256 MiB uploads took the registration function to a 1.9 GiB peak before any check. So each function target is
 * given a limit ({@link limitBody}), and the framework's `getServer`, which builds the server of one target, is
 * wrapped ({@link installBodyLimits}) to hold that server to it:
 *
 * - body-parser's own limit: the framework's parsers are built with the target's limit instead of 1024 MB, so a
 *   body (chunked, or inflated from a compressed one) is counted as it streams and stops being buffered at the
 *   limit; the rest is read off and dropped, and the framework errors handler (framework-errors.ts) answers 413;
 * - before that, a `Content-Length` over the limit answers 413 at once, without the framework seeing the request;
 *   Node reads off and drops the rest of the body, so the connection stays usable.
 */
import {createRequire} from 'node:module';
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
type ParserFactory = (options?: {limit?: number | string}) => unknown;
const PARSERS = ['json', 'raw', 'text', 'urlencoded'] as const;
type BodyParser = Record<(typeof PARSERS)[number], ParserFactory>;

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

/** Runs `build` with the framework's body parsers made with a limit of `maxBytes`, whatever it asks for. */
function withParserLimit<T>(
  bodyParser: BodyParser,
  maxBytes: number,
  build: () => T,
): T {
  const originals = PARSERS.map(name => [name, bodyParser[name]] as const);
  for (const [name, factory] of originals)
    bodyParser[name] = options => factory({...options, limit: maxBytes});
  try {
    return build();
  } finally {
    for (const [name, factory] of originals) bodyParser[name] = factory;
  }
}

/** Answers 413 to a request whose declared length is over `maxBytes`; true when it did. */
function declaredTooLarge(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
): boolean {
  if (!(Number(req.headers['content-length']) > maxBytes)) return false;
  res.writeHead(413, {'content-type': 'application/json; charset=utf-8'});
  res.end(JSON.stringify(errorBody(413, `the body is over ${maxBytes} bytes`)));
  return true;
}

/**
 * Wraps the framework's `getServer`, which its main module and its testing module call for each target, so each
 * server holds bodies to its target's limit ({@link MAX_BODY_BYTES} unless {@link limitBody} says otherwise).
 * Idempotent.
 */
export function installBodyLimits(): void {
  // The framework exports only its entry and testing modules: server.js is reached by its path (the module its
  // main and testing modules hold), and body-parser as the framework itself requires it.
  const entry = require.resolve('@google-cloud/functions-framework');
  const server = require(join(dirname(entry), 'server.js')) as {
    getServer: GetServer;
    [PATCHED]?: true;
  };
  if (server[PATCHED]) return;
  const bodyParser = createRequire(entry)('body-parser') as BodyParser;
  const getServer = server.getServer;
  server.getServer = (userFunction, options) => {
    const maxBytes = limits.get(userFunction) ?? MAX_BODY_BYTES;
    const httpServer = withParserLimit(bodyParser, maxBytes, () =>
      getServer(userFunction, options),
    );
    const apps = httpServer.listeners('request') as RequestListener[];
    httpServer.removeAllListeners('request');
    httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (declaredTooLarge(req, res, maxBytes)) return;
      for (const app of apps) app(req, res);
    });
    return httpServer;
  };
  server[PATCHED] = true;
}
