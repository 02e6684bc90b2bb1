/**
 * How the CLI authenticates to the registration function: a Google-signed ID token whose audience is the function
 * URL, as Cloud Run and Cloud Functions require of invokers. The local stack (http on a loopback host) needs none.
 *
 * google-auth-library mints ID tokens from service-account credentials (a key file, the metadata server,
 * impersonation), not from a user's `gcloud auth application-default login`; a user sets OPWATCH_ID_TOKEN, e.g.
 * from `gcloud auth print-identity-token`, instead.
 */
import {GoogleAuth, type IdTokenClient} from 'google-auth-library';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for an endpoint that takes requests without a token: plain http on a loopback host. */
export function isLocalEndpoint(endpoint: URL): boolean {
  return endpoint.protocol === 'http:' && LOOPBACK_HOSTS.has(endpoint.hostname);
}

/** Produces the `Authorization` header for requests to `endpoint`, or undefined when it needs none. */
export type Authorizer = () => Promise<string | undefined>;

/**
 * The authorizer for `endpoint`: `Bearer $OPWATCH_ID_TOKEN` when set, nothing for the local stack, else an ID
 * token for the endpoint (audience: the endpoint URL without a trailing slash), cached and refreshed by the
 * library.
 */
export function createAuthorizer(
  endpoint: URL,
  env: NodeJS.ProcessEnv = process.env,
): Authorizer {
  const fixed = env.OPWATCH_ID_TOKEN?.trim();
  if (fixed) return async () => `Bearer ${fixed}`;
  if (isLocalEndpoint(endpoint)) return async () => undefined;
  const audience = endpoint.href.replace(/\/+$/, '');
  let client: Promise<IdTokenClient> | undefined;
  return async () => {
    client ??= new GoogleAuth().getIdTokenClient(audience);
    const headers = await (await client).getRequestHeaders();
    return headers.get('authorization') ?? undefined;
  };
}
