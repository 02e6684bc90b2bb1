/**
 * The `operations` function's handler, wired to its dependencies. functions/index.ts loads this module on the
 * function's first request.
 */
import type {Request, Response} from '@google-cloud/functions-framework';
import {loadRegistrationConfig} from '../config';
import {newFirestore} from '../firestore';
import type {Logger} from '../log';
import {createRegistrationHandler} from './api';
import {RegistrationStore} from './store';

/** Builds the registration API from the environment's configuration. */
export function registrationHandler(
  log: Logger,
): (req: Request, res: Response) => Promise<void> {
  const config = loadRegistrationConfig();
  const store = new RegistrationStore(
    newFirestore(config.projectId),
    config.collection,
    config.retentionMs,
  );
  return createRegistrationHandler({config, store, log});
}
