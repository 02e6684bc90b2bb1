/**
 * A stand-in for the GCE metadata server, so that google-auth-library's real Application Default Credentials
 * path (the `Compute` client) mints the poller's tokens on loopback.
 *
 * What google-auth-library 11.3 / gcp-metadata 9.2 need, read from their sources:
 * - `GCE_METADATA_HOST=127.0.0.1:PORT` (no scheme needed). `GCE_METADATA_IP` wins over it, so it must be unset.
 *   With either set, detection pings only that host (not also `metadata.google.internal.`).
 * - ADC tries `GOOGLE_APPLICATION_CREDENTIALS`, then `$CLOUDSDK_CONFIG` (or `~/.config/gcloud`)
 *   `/application_default_credentials.json`, before the metadata server: both must find nothing.
 * - Detection: unless `METADATA_SERVER_DETECTION` says otherwise (`assume-present` skips the ping, `none`
 *   disables the metadata path), it GETs `/computeMetadata/v1/instance` and wants `Metadata-Flavor: Google`
 *   in the answer. The outcome is cached for the life of the gcp-metadata module (per test file under jest),
 *   false included, so the variables must be set before the first GoogleAuth call.
 * - The project id comes from `GCLOUD_PROJECT`/`GOOGLE_CLOUD_PROJECT`, else from running
 *   `gcloud config config-helper` (a child process, which may probe the real metadata server), and only then
 *   from `/project/project-id`. Setting `GOOGLE_CLOUD_PROJECT` avoids the child process.
 * - Tokens: `/instance/service-accounts/default/token?scopes=a,b`; ID tokens:
 *   `/instance/service-accounts/default/identity?format=full&audience=X` (audience not URL-encoded), read as
 *   text. A token is reused until 5 minutes before it expires, so a `tokenLifetimeSeconds` under 300 makes
 *   every `getAccessToken()` mint a new one.
 * - Under jest, gaxios's `import('node-fetch')` fails (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG) unless node
 *   runs with `--experimental-vm-modules`; detection then reports "no metadata server" and ADC throws
 *   "Could not load the default credentials". `install()` gives gaxios's shared instance (the one
 *   gcp-metadata uses) Node's fetch; an AuthClient's own `request()` has its own instance and still needs the
 *   flag, or a `transporterOptions.fetchImplementation`.
 *
 * {@link FakeMetadataServer.install} sets all of that up.
 */
import {gaxios} from 'google-auth-library';
import {randomBytes} from 'node:crypto';
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

/** Options of {@link FakeMetadataServer.start}. */
export interface FakeMetadataServerOptions {
  projectId?: string;
  serviceAccountEmail?: string;
  /** `expires_in` of minted access tokens; 3599 like the real server. */
  tokenLifetimeSeconds?: number;
}

/** One access token minted. */
export interface TokenRequest {
  /** The scopes asked for; empty when the request named none. */
  scopes: string[];
  at: number;
  token: string;
}

/** One ID token minted. */
export interface IdentityRequest {
  audience: string;
  at: number;
  token: string;
}

/**
 * Variables that would make google-auth-library look elsewhere than the metadata server, or run `gcloud` for a
 * project id; whoever points a process at this stand-in clears them.
 */
export const CREDENTIAL_VARIABLES: readonly string[] = [
  'GCE_METADATA_IP',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'google_application_credentials',
  'METADATA_SERVER_DETECTION',
  'GCLOUD_PROJECT',
  'gcloud_project',
  'google_cloud_project',
  'GOOGLE_CLOUD_QUOTA_PROJECT',
];

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

const base64url = (value: unknown) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

/** A loopback metadata server that mints fake tokens and records who asked for which. */
export class FakeMetadataServer {
  /** Path and query of every request, in order. */
  readonly requests: string[] = [];
  readonly tokenRequests: TokenRequest[] = [];
  readonly identityRequests: IdentityRequest[] = [];
  readonly projectId: string;
  readonly serviceAccountEmail: string;
  private readonly tokenLifetimeSeconds: number;
  private readonly issued: string[] = [];

  private constructor(
    private readonly server: Server,
    options: FakeMetadataServerOptions,
  ) {
    this.projectId = options.projectId ?? 'opwatch-test';
    this.serviceAccountEmail =
      options.serviceAccountEmail ??
      `opwatch@${this.projectId}.iam.gserviceaccount.com`;
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3599;
    server.on('request', (req, res) => this.handle(req, res));
  }

  /** Starts a server on 127.0.0.1 and a free port. */
  static async start(
    options: FakeMetadataServerOptions = {},
  ): Promise<FakeMetadataServer> {
    const fake = new FakeMetadataServer(createServer(), options);
    await new Promise<void>(resolve =>
      fake.server.listen(0, '127.0.0.1', resolve),
    );
    return fake;
  }

  /** `127.0.0.1:PORT`, the value for `GCE_METADATA_HOST`. */
  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Every access and ID token minted, in order. */
  issuedTokens(): string[] {
    return [...this.issued];
  }

  /**
   * Points google-auth-library's ADC at this server and away from everything else (see the file header), and
   * lets gcp-metadata's requests work under jest. Returns a function that undoes both.
   */
  install(): () => void {
    const saved = new Map<string, string | undefined>();
    const set = (key: string, value: string | undefined) => {
      if (!saved.has(key)) saved.set(key, process.env[key]);
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    };
    for (const key of CREDENTIAL_VARIABLES) set(key, undefined);
    set('GCE_METADATA_HOST', this.host);
    set('GOOGLE_CLOUD_PROJECT', this.projectId);
    // A directory that does not exist holds no application_default_credentials.json.
    set('CLOUDSDK_CONFIG', join(tmpdir(), `opwatch-no-gcloud-${process.pid}`));
    // gaxios loads node-fetch with import(), which jest's VM rejects without --experimental-vm-modules;
    // gcp-metadata uses gaxios's shared instance, so handing that one Node's fetch is enough.
    const defaults = gaxios.instance.defaults;
    const savedFetch = defaults.fetchImplementation;
    defaults.fetchImplementation ??= fetch;
    return () => {
      defaults.fetchImplementation = savedFetch;
      for (const [key, value] of saved) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    };
  }

  /** Closes the server and its keep-alive connections. */
  async stop(): Promise<void> {
    const closed = new Promise<void>(resolve =>
      this.server.close(() => resolve()),
    );
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(req.url ?? '/');
    const url = new URL(req.url ?? '/', 'http://metadata');
    const [status, body] =
      req.headers['metadata-flavor'] !== 'Google'
        ? [403, 'Missing required header: Metadata-Flavor\n']
        : req.method !== 'GET'
          ? [405, 'Method not allowed\n']
          : this.route(url.pathname, url.searchParams);
    // Text stays text: gcp-metadata parses every answer as JSON when it can.
    const json = typeof body !== 'string';
    res.writeHead(status, {
      'Metadata-Flavor': 'Google',
      'Content-Type': json ? 'application/json' : 'application/text',
    });
    res.end(json ? JSON.stringify(body) : body);
  }

  private route(pathname: string, params: URLSearchParams): [number, unknown] {
    const path = pathname.replace(/^\/computeMetadata\/v1\/?|\/$/g, '');
    const recursive = params.get('recursive') === 'true';
    const email = this.serviceAccountEmail;
    // The real server accepts the account's email wherever `default` goes.
    const account = path.match(/^instance\/service-accounts\/([^/]+)\/?(.*)$/);
    if (account && account[1] !== 'default' && account[1] !== email) {
      return [404, 'Not Found\n'];
    }
    switch (account ? `account/${account[2]}` : path) {
      case 'instance':
        return [200, 'id\nservice-accounts/\nzone\n'];
      case 'project/project-id':
        return [200, this.projectId];
      case 'project/numeric-project-id':
        return [200, '123456789012'];
      case 'universe/universe-domain':
        return [200, 'googleapis.com'];
      case 'instance/service-accounts': {
        const all = {default: this.account(), [email]: this.account()};
        return [200, recursive ? all : `default/\n${email}/\n`];
      }
      case 'account/':
        return [200, recursive ? this.account() : 'aliases\nemail\nscopes\n'];
      case 'account/email':
        return [200, email];
      case 'account/scopes':
        return [200, `${CLOUD_PLATFORM}\n`];
      case 'account/token':
        return [200, this.mintAccessToken(params.get('scopes'))];
      case 'account/identity': {
        const audience = params.get('audience');
        if (!audience) return [400, 'non-empty audience parameter required\n'];
        return [
          200,
          this.mintIdToken(audience, params.get('format') === 'full'),
        ];
      }
      default:
        return [404, 'Not Found\n'];
    }
  }

  private account() {
    return {
      aliases: ['default'],
      email: this.serviceAccountEmail,
      scopes: [CLOUD_PLATFORM],
    };
  }

  private mintAccessToken(scopes: string | null) {
    const token = `ya29.fake-${randomBytes(16).toString('hex')}`;
    this.tokenRequests.push({
      scopes: scopes ? scopes.split(',') : [],
      at: Date.now(),
      token,
    });
    this.issued.push(token);
    return {
      access_token: token,
      expires_in: this.tokenLifetimeSeconds,
      token_type: 'Bearer',
    };
  }

  private mintIdToken(audience: string, full: boolean): string {
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      aud: audience,
      azp: '100000000000000000001',
      ...(full ? {email: this.serviceAccountEmail, email_verified: true} : {}),
      exp: now + 3600,
      iat: now,
      iss: 'https://accounts.google.com',
      sub: '100000000000000000001',
      jti: randomBytes(8).toString('hex'),
    };
    const header = {alg: 'RS256', kid: 'fake', typ: 'JWT'};
    const signature = randomBytes(32).toString('base64url');
    const token = `${base64url(header)}.${base64url(payload)}.${signature}`;
    this.identityRequests.push({audience, at: Date.now(), token});
    this.issued.push(token);
    return token;
  }
}
