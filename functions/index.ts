/**
 * The Cloud Functions entry point: registers every function target with the Functions Framework.
 *
 * Handlers are built on their first request, so a process serving one target never reads the other's
 * configuration, and importing this module has no side effects beyond the registration.
 */
import * as functions from '@google-cloud/functions-framework';

/** The function targets this package serves, as deployed. */
export const FUNCTION_TARGETS = ['operations', 'poll'] as const;
