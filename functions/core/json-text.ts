/**
 * Variables whose value is JSON text (ENDPOINT_OVERRIDES, TENANTS): the text parsed in a zod transform, so a
 * value that is not JSON fails the configuration naming its variable, like any other bad value.
 */
import {z} from 'zod';

/** The JSON value of `text`, or an issue saying the variable must be a JSON object; for `.transform()`. */
export function parseJsonText(text: string, ctx: z.RefinementCtx): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({code: 'custom', message: 'must be a JSON object'});
    return z.NEVER;
  }
}
