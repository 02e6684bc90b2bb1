/**
 * Clear JSON errors for requests the Functions Framework rejects before calling a function.
 *
 * The framework parses request bodies itself and hands a body-parser failure (malformed JSON, an unsupported
 * charset) to Express's default final handler, which answers an HTML page with a stack trace in development.
 * The framework offers no hook for this (functions-framework-nodejs issue #686), so this module replaces that
 * final handler on the framework's own Express instance: body-parser errors get their 4xx as a JSON error, and
 * anything else a 500 that reveals nothing.
 */
import {createRequire} from 'node:module';
import type {Application, NextFunction, Request, Response} from 'express';
import {errorBody} from './responses';

type Handle = (req: Request, res: Response, callback?: NextFunction) => void;

/** body-parser's error types, and what they mean to a caller. */
const BODY_ERRORS: Record<string, [number, string]> = {
  'entity.parse.failed': [400, 'the body is not valid JSON'],
  'entity.verify.failed': [400, 'the body could not be read'],
  'request.aborted': [400, 'the request was aborted before its body arrived'],
  'request.size.invalid': [
    400,
    'the body is shorter or longer than its Content-Length',
  ],
  'entity.too.large': [413, 'the body is too large'],
  'encoding.unsupported': [415, 'unsupported Content-Encoding'],
  'charset.unsupported': [415, 'unsupported charset: send UTF-8 JSON'],
};

const PATCHED = Symbol.for('opwatch.frameworkErrors');

function answer(error: unknown, res: Response): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const {type, status} = (error ?? {}) as {type?: string; status?: number};
  // body-parser gives some failures only a status: a body that does not decompress as its Content-Encoding says.
  const unreadable: [number, string] | undefined =
    status !== undefined && status >= 400 && status < 500
      ? [status, 'the body could not be read']
      : undefined;
  const [code, message] =
    error === undefined
      ? [404, 'not found']
      : (BODY_ERRORS[type ?? ''] ?? unreadable ?? [500, 'internal error']);
  res.status(code).json(errorBody(code, message));
}

/** Installs the JSON final handler on the Express instance the Functions Framework uses; idempotent. */
export function installFrameworkErrorHandler(): void {
  const requireFromFramework = createRequire(
    require.resolve('@google-cloud/functions-framework'),
  );
  const application = (
    requireFromFramework('express') as {application: Application}
  ).application as Application & {
    handle: Handle;
    [PATCHED]?: true;
  };
  if (application[PATCHED]) return;
  const handle = application.handle;
  application.handle = function (this: Application, req, res, callback) {
    handle.call(this, req, res, callback ?? (error => answer(error, res)));
  };
  application[PATCHED] = true;
}
