/**
 * Keyless domain-wide delegation: a token that acts as a Workspace user, for credentials that hold no private key
 * (Cloud Functions' metadata server).
 *
 * Google's own recipe: the poller's service account signs the delegation JWT through IAM Credentials
 * (`signJwt`, which needs Token Creator on itself), and the signed JWT is exchanged at the OAuth token endpoint
 * with the JWT-bearer grant. Both hosts go through ENDPOINT_OVERRIDES like any other Google host.
 */
import {GoogleAuth} from 'google-auth-library';
import {LRUCache} from 'lru-cache';
import type {EndpointOverrides} from '../core/config';
import {CLOUD_PLATFORM} from '../core/presets';

/** The OAuth token endpoint: the JWT's audience, whatever base URL the request itself goes to. */
export const TOKEN_ENDPOINT = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google's upper bound on a delegation JWT's lifetime. */
const JWT_LIFETIME_SECONDS = 3600;
/** A cached token is renewed this long before it expires, so no poll carries a token about to lapse. */
const EXPIRY_MARGIN_MS = 5 * 60_000;
const MAX_CACHED_TOKENS = 1000;
/** How long one call to IAM Credentials or the token endpoint may take. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A refusal that asking again will not change: the watch ends with `poll_error`. */
export class PermanentTokenError extends Error {}

/**
 * Token-endpoint refusals (RFC 6749 section 5.2) that asking again will not change. With a subject they are the
 * usual domain-wide delegation mistakes: `unauthorized_client` when the admin console does not authorise the client
 * for every scope asked, `invalid_grant` for a subject outside the domain or a deleted key. Treated as transient,
 * they would keep a watch polling until its timeout instead of ending it with `poll_error`.
 */
const PERMANENT_OAUTH_ERRORS = new Set([
  'unauthorized_client',
  'invalid_grant',
  'invalid_scope',
  'access_denied',
]);

/** The OAuth error of a permanent token-endpoint refusal, as `error: description`; else undefined. */
export function permanentOAuthError(
  status: number,
  data: unknown,
): string | undefined {
  const body = data as
    {error?: unknown; error_description?: unknown} | undefined;
  if (status < 400 || status >= 500 || typeof body?.error !== 'string')
    return undefined;
  if (!PERMANENT_OAUTH_ERRORS.has(body.error)) return undefined;
  return typeof body.error_description === 'string'
    ? `${body.error}: ${body.error_description}`
    : body.error;
}

interface CachedToken {
  token: string;
  /** Epoch milliseconds after which it is renewed. */
  renewAt: number;
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return (await response.json()) as unknown;
  } catch {
    return undefined;
  }
}

/** Mints and caches delegated tokens, one per subject and set of scopes. */
export class KeylessDelegation {
  private readonly cache = new LRUCache<string, CachedToken>({
    max: MAX_CACHED_TOKENS,
  });
  /** Requests under way, so concurrent polls of one subject share one exchange. */
  private readonly pending = new Map<string, Promise<CachedToken>>();

  /** The poller's own Application Default Credentials, with the scope signJwt needs. */
  private readonly auth = new GoogleAuth({scopes: [CLOUD_PLATFORM]});

  constructor(
    private readonly endpointOverrides: EndpointOverrides,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * An access token acting as `subject` with `scopes`.
   * @throws PermanentTokenError when IAM or the token endpoint refuses for good.
   */
  async accessToken(
    subject: string,
    scopes: readonly string[],
  ): Promise<string> {
    const key = `${subject}|${[...scopes].sort().join(' ')}`;
    const cached = this.cache.get(key);
    if (cached && cached.renewAt > this.now()) return cached.token;
    let minting = this.pending.get(key);
    if (!minting) {
      minting = this.mint(subject, scopes).finally(() =>
        this.pending.delete(key),
      );
      this.pending.set(key, minting);
    }
    const minted = await minting;
    this.cache.set(key, minted);
    return minted.token;
  }

  private base(host: string): string {
    return this.endpointOverrides.get(host) ?? `https://${host}`;
  }

  private async mint(
    subject: string,
    scopes: readonly string[],
  ): Promise<CachedToken> {
    const signedJwt = await this.sign(subject, scopes);
    const response = await fetch(
      `${this.base('oauth2.googleapis.com')}/token`,
      {
        method: 'POST',
        headers: {'content-type': 'application/x-www-form-urlencoded'},
        body: new URLSearchParams({
          grant_type: JWT_BEARER,
          assertion: signedJwt,
        }),
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
    );
    const data = (await readJson(response)) as
      {access_token?: unknown; expires_in?: unknown} | undefined;
    if (!response.ok || typeof data?.access_token !== 'string') {
      const refusal = permanentOAuthError(response.status, data);
      if (refusal) throw new PermanentTokenError(refusal);
      throw new Error(`the token endpoint answered HTTP ${response.status}`);
    }
    const lifetimeS =
      typeof data.expires_in === 'number'
        ? data.expires_in
        : JWT_LIFETIME_SECONDS;
    return {
      token: data.access_token,
      renewAt: this.now() + lifetimeS * 1000 - EXPIRY_MARGIN_MS,
    };
  }

  /** The delegation JWT, signed by the poller's own service account through IAM Credentials. */
  private async sign(
    subject: string,
    scopes: readonly string[],
  ): Promise<string> {
    const {client_email: email} = await this.auth.getCredentials();
    if (!email)
      throw new PermanentTokenError('the credentials name no service account');
    const iat = Math.floor(this.now() / 1000);
    const claims = {
      iss: email,
      sub: subject,
      scope: scopes.join(' '),
      aud: TOKEN_ENDPOINT,
      iat,
      exp: iat + JWT_LIFETIME_SECONDS,
    };
    const token = await this.auth.getAccessToken();
    const url = `${this.base('iamcredentials.googleapis.com')}/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:signJwt`;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({payload: JSON.stringify(claims)}),
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const data = (await readJson(response)) as
      {signedJwt?: unknown} | undefined;
    if (response.ok && typeof data?.signedJwt === 'string')
      return data.signedJwt;
    // 400/403/404: no Token Creator on itself, IAM Credentials API off, no such account. None heals by itself.
    const message = `IAM Credentials signJwt for ${email} answered HTTP ${response.status}`;
    if (
      response.status >= 400 &&
      response.status < 500 &&
      response.status !== 429
    )
      throw new PermanentTokenError(message);
    throw new Error(message);
  }
}
