/**
 * A client of the registration API (functions/registration/api.ts; its shapes are the zod definitions of
 * functions/core/schemas.ts): one method per route, JSON in and out, API errors as {@link ApiError} and an
 * endpoint that does not answer usably as {@link UnreachableError}.
 */
import type {
  ErrorBody,
  RegistrationList,
  RegistrationView as ApiRegistrationView,
} from '../functions/core/schemas';
import type {Stats} from '../functions/core/stats';
import type {WatchView as ApiWatchView} from '../functions/core/watch';
import type {Authorizer} from './auth';

/** A registration as the API shows it (schema Registration). */
export type RegistrationView = ApiRegistrationView;

/** A page of registrations (schema RegistrationList). */
export type RegistrationPage = RegistrationList;
/** A watch of a parent, as the API shows it. */
export type WatchView = ApiWatchView;
/** A page of `GET /watches`. */
export type WatchPage = {watches: WatchView[]; nextPageToken?: string};

/** The `error` of an error answer (schema Error). */
export type ApiErrorDetail = ErrorBody['error'];

/** The API answered with an error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: ApiErrorDetail,
  ) {
    super(detail.message);
    this.name = 'ApiError';
  }
}

/** No usable answer: the endpoint could not be reached, timed out, or answered something that is not the API. */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

/** The list filter and page. */
export interface ListQuery {
  state?: string;
  /** Only this tenant's registrations (an admin's list). */
  tenant?: string;
  pageSize?: number;
  pageToken?: string;
}

/** Options of {@link OpwatchApi}. */
export interface OpwatchApiOptions {
  authorize: Authorizer;
  /** Per request; a long-running wait makes many short requests. */
  timeoutMs?: number;
  userAgent?: string;
}

/** The registration API at one endpoint. */
export class OpwatchApi {
  private readonly base: string;

  constructor(
    readonly endpoint: URL,
    private readonly options: OpwatchApiOptions,
  ) {
    this.base = endpoint.href.replace(/\/+$/, '');
  }

  /**
   * POST /operations: `created` is false when the operation is already being watched (200); a registration whose
   * watch had ended is replaced by a new watch (created, with `registration.previous`).
   */
  async register(
    body: object,
  ): Promise<{created: boolean; registration: RegistrationView}> {
    const {status, json} = await this.send('POST', '/operations', body);
    return {created: status === 201, registration: json as RegistrationView};
  }

  /** GET /operations/{id}. */
  async get(id: string): Promise<RegistrationView> {
    const {json} = await this.send(
      'GET',
      `/operations/${encodeURIComponent(id)}`,
    );
    return json as RegistrationView;
  }

  /** GET /operations: one page. */
  async list(query: ListQuery): Promise<RegistrationPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const search = params.size > 0 ? `?${params}` : '';
    const {json} = await this.send('GET', `/operations${search}`);
    return json as RegistrationPage;
  }

  /** GET /stats: the deployment's figures, or one tenant's (ADMIN_PRINCIPALS, or the tenant's admins). */
  async stats(tenant?: string): Promise<Stats> {
    const search =
      tenant === undefined ? '' : `?${new URLSearchParams({tenant})}`;
    const {json} = await this.send('GET', `/stats${search}`);
    return json as Stats;
  }

  /** DELETE /operations/{id}. */
  async cancel(id: string): Promise<void> {
    await this.send('DELETE', `/operations/${encodeURIComponent(id)}`);
  }

  /** POST /watches: `created` is false when the same parent is already watched (200). */
  async watch(body: object): Promise<{created: boolean; watch: WatchView}> {
    const {status, json} = await this.send('POST', '/watches', body);
    return {created: status === 201, watch: json as WatchView};
  }

  /** GET /watches: one page. */
  async listWatches(query: ListQuery): Promise<WatchPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const search = params.size > 0 ? `?${params}` : '';
    const {json} = await this.send('GET', `/watches${search}`);
    return json as WatchPage;
  }

  /** DELETE /watches/{id}: the watch, cancelled. */
  async cancelWatch(id: string): Promise<WatchView> {
    const path = `/watches/${encodeURIComponent(id)}`;
    return (await this.send('DELETE', path)).json as WatchView;
  }

  private async send(
    method: string,
    path: string,
    body?: object,
  ): Promise<{status: number; json: unknown}> {
    const url = `${this.base}${path}`;
    let authorization: string | undefined;
    try {
      authorization = await this.options.authorize();
    } catch (error) {
      throw new UnreachableError(
        `no ID token for ${this.base}: ${(error as Error).message} ` +
          '(set OPWATCH_ID_TOKEN, e.g. to $(gcloud auth print-identity-token))',
      );
    }
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          'user-agent': this.options.userAgent ?? 'opwatch-cli',
          ...(body !== undefined && {'content-type': 'application/json'}),
          ...(authorization && {authorization}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
      text = await response.text();
    } catch (error) {
      // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, "bad port").
      const cause = (error as {cause?: {code?: string; message?: string}})
        .cause;
      const reason =
        (error as Error).name === 'TimeoutError'
          ? 'timed out'
          : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new UnreachableError(`cannot reach ${this.base}: ${reason}`);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok) {
      if (response.status !== 204 && json === undefined) {
        throw new UnreachableError(
          `${method} ${url} answered ${response.status} without JSON: is ${this.base} the opwatch operations function?`,
        );
      }
      return {status: response.status, json};
    }
    const detail = (json as {error?: ApiErrorDetail} | undefined)?.error;
    if (detail && typeof detail.message === 'string')
      throw new ApiError(response.status, detail);
    // Not opwatch's own error shape: Cloud Run's 401/403 page, a proxy, or another service.
    throw new ApiError(response.status, {
      code: response.status,
      status: 'HTTP_ERROR',
      message: `${method} ${url} answered ${response.status}${text ? `: ${text.slice(0, 200).trim()}` : ''}`,
    });
  }
}
