/**
 * The Cloud Functions entry point: registers every function target with the Functions Framework.
 *
 * Each handler is built on its function's first request, from a module of its own loaded then, so a process
 * serving one target loads and reads only what that target needs (the poll function's main thread not even the
 * poller's clients, which live on its worker thread), and a configuration error fails that target loudly, naming
 * the variable. Every target's request bodies are bounded before the framework reads them (http/body-limit.ts).
 */
import * as functions from '@google-cloud/functions-framework';
import {
  MAX_BODY_BYTES,
  MAX_EVENT_BODY_BYTES,
  installBodyLimits,
  limitBody,
} from './http/body-limit';
import {installFrameworkErrorHandler} from './http/framework-errors';
import {createLogger} from './platform/log';

/** The function targets this package serves, as deployed. */
export const FUNCTION_TARGETS = ['operations', 'poll', 'completions'] as const;

/** Defers building a handler to its first call, and builds it once. */
function lazy<Args extends unknown[]>(
  build: () => (...args: Args) => Promise<void>,
): (...args: Args) => Promise<void> {
  let handler: ((...args: Args) => Promise<void>) | undefined;
  return (...args) => {
    handler ??= build();
    return handler(...args);
  };
}

const log = createLogger();

installFrameworkErrorHandler();
installBodyLimits();

functions.http(
  'operations',
  limitBody(
    MAX_BODY_BYTES,
    lazy(() =>
      (
        require('./targets/registration') as typeof import('./targets/registration')
      ).registrationHandler(log),
    ),
  ),
);

functions.http(
  'poll',
  limitBody(
    MAX_BODY_BYTES,
    lazy(() =>
      (
        require('./targets/poll') as typeof import('./targets/poll')
      ).pollHandler(log),
    ),
  ),
);

functions.cloudEvent(
  'completions',
  limitBody(
    MAX_EVENT_BODY_BYTES,
    lazy(() =>
      (
        require('./targets/completions') as typeof import('./targets/completions')
      ).completionsHandler(log),
    ),
  ),
);
