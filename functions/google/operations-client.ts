/**
 * The operations client: one `operations.get` over HTTP, authorised with the service account's token.
 *
 * The token goes only to the base URL of a trusted host (checked again here against the current configuration,
 * so a registration stored under an older configuration cannot reach a host no longer trusted), and redirects are
 * never followed: a 3xx is an answer, not a hop to wherever the `Location` points.
 *
 * Requests go through undici's `request`, over keep-alive connections, not through `fetch`: profiled in the poll
 * process, fetch's WHATWG layer (Request, Headers, Response, the answer read as a web stream) cost 130 µs of CPU
 * per poll more than `request` on the same connections, a sixth of a poll's CPU.
 */
import {GoogleAuth} from 'google-auth-library';
import {LRUCache} from 'lru-cache';
import {Agent, errors, request} from 'undici';
import {isTrustedHost, type EndpointOverrides} from '../core/config';
import {
  KeylessDelegation,
  PermanentTokenError,
  permanentOAuthError,
} from './delegation';
import {within} from '../platform/deadline';
import {redact} from '../platform/log';
import type {Operation, Registration} from '../core/model';
import type {PollResult} from '../core/policy';
import type {Watch} from '../core/watch';
import {
  MAX_ANSWER_DEPTH,
  answerProblem,
  nestedDeeperThan,
} from './operation-answer';

/** Enough of an answer's body to tell what went wrong, without storing a whole HTML error page. */
const ERROR_BODY_CHARS = 2048;
/**
 * A larger answer is refused unless the memory budget (polling/memory-budget.ts) sets a smaller cap: it could not
 * be published anyway (Pub/Sub's limit is 10 MB).
 */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** A larger `ListOperations` page is refused: a list is read whole, page by page, within a tick's memory. */
export const MAX_LIST_PAGE_BYTES = 2 * 1024 * 1024;
/**
 * The `pageSize` asked of `ListOperations`: APIs coerce a larger one to their maximum (AIP-158), so this asks for as
 * few pages as they allow, within the byte bound.
 */
const LIST_PAGE_SIZE = 1000;
const USER_AGENT = 'opwatch/0.1 (+https://github.com/opwatch)';
/** Token clients kept: one per set of scopes and subject in use, least recently used dropped first. */
const MAX_TOKEN_CLIENTS = 500;

export {PermanentTokenError};

/** Supplies OAuth access tokens; the default is Application Default Credentials. */
export interface TokenSource {
  accessToken(scopes: readonly string[], subject?: string): Promise<string>;
}

/**
 * Tokens from google-auth-library's Application Default Credentials (on Cloud Functions, the metadata server),
 * one cached client per set of scopes and subject; the library refreshes each token before it expires. A subject
 * with key-based credentials is signed by the library as always; credentials without a key (Cloud Functions)
 * go through {@link KeylessDelegation}.
 */
export class AdcTokenSource implements TokenSource {
  private readonly clients = new LRUCache<string, GoogleAuth>({
    max: MAX_TOKEN_CLIENTS,
  });
  private readonly delegation: KeylessDelegation;

  constructor(endpointOverrides: EndpointOverrides = new Map()) {
    this.delegation = new KeylessDelegation(endpointOverrides);
  }

  async accessToken(
    scopes: readonly string[],
    subject?: string,
  ): Promise<string> {
    const key = `${[...scopes].sort().join(' ')}|${subject ?? ''}`;
    let auth = this.clients.get(key);
    if (!auth) {
      auth = new GoogleAuth({
        scopes: [...scopes],
        ...(subject !== undefined && {clientOptions: {subject}}),
      });
      this.clients.set(key, auth);
    }
    if (subject !== undefined) {
      // Only key-based service-account credentials act as a user by themselves; others would silently ignore the
      // subject and poll as the service account itself, so they delegate through IAM Credentials instead.
      const client = (await auth.getClient()) as {subject?: string};
      if (client.subject !== subject)
        return this.delegation.accessToken(subject, scopes);
    }
    let token: string | null | undefined;
    try {
      token = await auth.getAccessToken();
    } catch (error) {
      const response = (
        error as {response?: {status?: number; data?: unknown}} | undefined
      )?.response;
      const oauthError = permanentOAuthError(
        response?.status ?? 0,
        response?.data,
      );
      if (oauthError) throw new PermanentTokenError(oauthError);
      throw error;
    }
    if (!token)
      throw new Error(
        'Application Default Credentials returned no access token',
      );
    return token;
  }
}

/** Reads a `Retry-After` header (seconds, or an HTTP date) as milliseconds from `now`. */
export function parseRetryAfter(
  header: string | string[] | null | undefined,
  now: number,
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The start of an answer's body, fit to keep: it is stored, shown by the API and published with the outcome, and
 * an API may echo the request's credentials back in an error. The token sent goes first, whatever its shape,
 * then anything else shaped like a credential.
 */
function scrub(body: string, token: string): string {
  const head = body
    .slice(0, 2 * ERROR_BODY_CHARS)
    .split(token)
    .join('[redacted]');
  return redact(head).slice(0, ERROR_BODY_CHARS);
}

/** An answer of `operations.get`, read whole. */
interface Answer {
  status: number;
  retryAfter: string | string[] | undefined;
  body: string;
}

/** What a list needs of a watch. */
export type ListedParent = Pick<
  Watch,
  'service' | 'version' | 'parent' | 'filter' | 'scopes'
>;

/** One page of `ListOperations`, parsed but unchecked, or why there is none. */
export type ListPageResult = {kind: 'page'; page: unknown} | Failure;

/** A poll or a list that yielded nothing, and why. */
type Failure = Exclude<PollResult, {kind: 'operation'}>;

/** What the operations client needs. */
export interface OperationsClientOptions {
  endpointOverrides: EndpointOverrides;
  requestTimeoutMs: number;
  /** The largest answer read, in bytes; a larger one is the registration's poll error. */
  maxAnswerBytes?: number;
  tokens?: TokenSource;
  now?: () => number;
}

/** Polls operations. */
export class OperationsClient {
  private readonly endpointOverrides: EndpointOverrides;
  private readonly requestTimeoutMs: number;
  private readonly tokens: TokenSource;
  private readonly now: () => number;
  private readonly maxAnswerBytes: number;
  /** Keep-alive connections per host; an answer over the cap fails as it arrives, and is never read whole. */
  private readonly agent: Agent;
  /** The same for lists, whose pages are bounded apart: a tick holds a whole list in memory. */
  private readonly listAgent = new Agent({
    maxResponseSize: MAX_LIST_PAGE_BYTES,
  });

  constructor(options: OperationsClientOptions) {
    this.endpointOverrides = options.endpointOverrides;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.maxAnswerBytes = options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
    this.agent = new Agent({maxResponseSize: this.maxAnswerBytes});
    this.tokens = options.tokens ?? new AdcTokenSource(this.endpointOverrides);
    this.now = options.now ?? Date.now;
  }

  /** Where `operations.get` for this registration goes. */
  urlFor(registration: Pick<Registration, 'operation'>): string {
    const {service, version, name} = registration.operation;
    const base = this.endpointOverrides.get(service) ?? `https://${service}`;
    return `${base}/${version}/${name}`;
  }

  /** Polls the registration's operation once and classifies the answer; never throws. */
  async get(
    registration: Pick<
      Registration,
      'operation' | 'scopes' | 'subject' | 'style'
    >,
  ): Promise<PollResult> {
    const {service} = registration.operation;
    const token = await this.tokenFor(service, registration);
    if (typeof token !== 'string') return token;
    const answer = await this.send(this.urlFor(registration), service, token);
    if ('kind' in answer) return answer;
    return this.classify(answer, registration, token);
  }

  /**
   * One page of `ListOperations` under a watch's parent (`GET {parent}/operations`), its `filter` passed through;
   * never throws. The page is parsed JSON, not yet checked: operations-list.ts reads it as untrusted.
   */
  async listPage(
    watch: ListedParent,
    pageToken?: string,
  ): Promise<ListPageResult> {
    const {service, version, parent} = watch;
    const token = await this.tokenFor(service, watch);
    if (typeof token !== 'string') return token;
    const query = new URLSearchParams({pageSize: String(LIST_PAGE_SIZE)});
    if (watch.filter !== undefined) query.set('filter', watch.filter);
    if (pageToken !== undefined) query.set('pageToken', pageToken);
    const base = this.endpointOverrides.get(service) ?? `https://${service}`;
    const url = `${base}/${version}/${parent}/operations?${query}`;
    const answer = await this.send(url, service, token, {
      agent: this.listAgent,
      maxBytes: MAX_LIST_PAGE_BYTES,
    });
    if ('kind' in answer) return answer;
    if (answer.status === 200) {
      try {
        return {kind: 'page', page: JSON.parse(answer.body) as unknown};
      } catch {
        // Falls through: a 200 that is not JSON.
      }
    }
    return this.failure(answer, token, 'a ListOperations page');
  }

  /**
   * The token for a request to `service`, checked again against the current configuration's trusted hosts (a
   * registration or watch stored under an older one may name a host no longer trusted); or why there is none.
   */
  private async tokenFor(
    service: string,
    credentials: Pick<Registration, 'scopes' | 'subject'>,
  ): Promise<string | Failure> {
    if (!isTrustedHost(service, this.endpointOverrides)) {
      return {
        kind: 'rejected',
        error: {kind: 'untrusted', message: `${service} is not a trusted host`},
      };
    }
    return this.token(credentials);
  }

  /**
   * The token to poll with, or the poll's result when there is none: within the request's own timeout, since a
   * metadata server or token endpoint that does not answer would otherwise hold the poll's slot.
   */
  private async token(
    registration: Pick<Registration, 'scopes' | 'subject'>,
  ): Promise<string | Failure> {
    try {
      return await within(
        this.tokens.accessToken(registration.scopes, registration.subject),
        this.requestTimeoutMs,
        'fetching an access token',
        'the token source',
      );
    } catch (error) {
      const message = `no access token: ${(error as Error).message}`;
      return error instanceof PermanentTokenError
        ? {kind: 'rejected', error: {kind: 'network', message}}
        : {kind: 'transient', error: {kind: 'network', message}};
    }
  }

  /** Sends a GET: the answer read whole, or the poll's result when there was none to read. */
  private async send(
    url: string,
    service: string,
    token: string,
    {agent, maxBytes}: {agent: Agent; maxBytes: number} = {
      agent: this.agent,
      maxBytes: this.maxAnswerBytes,
    },
  ): Promise<Answer | Failure> {
    let status: number | undefined;
    try {
      // undici's request follows no redirect, and asks for no compression unless told to.
      const response = await request(url, {
        dispatcher: agent,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'accept-encoding': 'identity',
          'user-agent': USER_AGENT,
        },
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      status = response.statusCode;
      return {
        status,
        retryAfter: response.headers['retry-after'],
        body: await response.body.text(),
      };
    } catch (error) {
      if (error instanceof errors.ResponseExceededMaxSizeError) {
        return {
          kind: 'rejected',
          error: {
            kind: 'invalid',
            ...(status !== undefined && {status}),
            message: `answer over ${maxBytes} bytes`,
          },
        };
      }
      const reason =
        (error as Error).name === 'TimeoutError'
          ? 'timed out'
          : (error as Error).message;
      return {
        kind: 'transient',
        error: {
          kind: 'network',
          message: `no answer from ${service}: ${reason}`,
        },
      };
    }
  }

  /** What an answer means: the operation, or an error that is worth retrying or not. */
  private classify(
    {status, retryAfter, body}: Answer,
    registration: Pick<Registration, 'operation' | 'style'>,
    token: string,
  ): PollResult {
    let problem = 'not JSON';
    if (status === 200 && nestedDeeperThan(body, MAX_ANSWER_DEPTH)) {
      problem = `nested deeper than ${MAX_ANSWER_DEPTH} levels`;
    } else if (status === 200) {
      try {
        const operation: unknown = JSON.parse(body);
        const found = answerProblem(operation, {
          name: registration.operation.name,
          style: registration.style,
        });
        if (found === undefined)
          return {kind: 'operation', operation: operation as Operation};
        problem = found;
      } catch {
        // A 200 whose body is not JSON: not an Operation either.
      }
    }
    return this.failure(
      {status, retryAfter, body},
      token,
      `an Operation: ${problem}`,
    );
  }

  /** What an answer that is not the one wanted means: an error that is worth retrying or not. */
  private failure(
    {status, retryAfter, body}: Answer,
    token: string,
    wanted: string,
  ): Failure {
    // Only an answer that is not what was asked for is kept, so only such a body is scrubbed.
    const error = {
      kind: 'http' as const,
      status,
      message: `HTTP ${status}`,
      body: scrub(body, token),
    };
    if (status === 200) {
      return {
        kind: 'rejected',
        error: {
          ...error,
          kind: 'invalid',
          message: `HTTP 200 but not ${wanted}`,
        },
      };
    }
    if (status === 404) return {kind: 'not_found', error};
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfter(retryAfter, this.now());
      return {
        kind: 'transient',
        error,
        ...(retryAfterMs !== undefined && {retryAfterMs}),
      };
    }
    return {kind: 'rejected', error};
  }
}
