/**
 * A stand-in for Google's identity endpoints, on loopback, reached through ENDPOINT_OVERRIDES as an operator would
 * point opwatch at them:
 *
 * - `www.googleapis.com` `GET /oauth2/v1/certs`: the public key of a locally generated signing key, which
 *   google-auth-library's `verifyIdToken` checks callers' ID tokens against; {@link idToken} mints them.
 * - `iamcredentials.googleapis.com` `POST /v1/projects/-/serviceAccounts/{email}:signJwt`: signs the claims it is
 *   given with the same key, and records them.
 * - `oauth2.googleapis.com` `POST /token`: the JWT-bearer grant; records the assertion and issues a token.
 *
 * Either of the last two can be told to refuse, as Google does when Token Creator or the admin console's
 * domain-wide delegation is missing.
 */
import {createSign, generateKeyPairSync, randomBytes} from 'node:crypto';
import {createServer, type IncomingMessage, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';

const KEY_ID = 'opwatch-test-key';

/** A signJwt call: the claims it was asked to sign and the bearer token it came with. */
export interface SignJwtCall {
  serviceAccount: string;
  claims: Record<string, unknown>;
  authorization?: string;
}

/** A token exchange: the grant type and the claims of the assertion. */
export interface TokenExchange {
  grantType: string | null;
  claims: Record<string, unknown>;
}

/** An answer to send instead of the normal one. */
export interface Refusal {
  status: number;
  body: unknown;
}

const base64url = (value: object) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', chunk => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(
    Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'),
  ) as Record<string, unknown>;
}

/** The running stand-in. */
export class GoogleIdentityServer {
  readonly signJwtCalls: SignJwtCall[] = [];
  readonly exchanges: TokenExchange[] = [];
  /** Access tokens issued by `/token`, in order. */
  readonly issued: string[] = [];
  /** When set, signJwt answers this. */
  signJwtRefusal: Refusal | undefined;
  /** When set, the token endpoint answers this. */
  tokenRefusal: Refusal | undefined;

  private readonly keys = generateKeyPairSync('rsa', {modulusLength: 2048});

  private constructor(private readonly server: Server) {
    server.on('request', (req, res) => {
      void this.answer(req).then(([status, body]) => {
        res.writeHead(status, {'content-type': 'application/json'});
        res.end(JSON.stringify(body));
      });
    });
  }

  static async start(): Promise<GoogleIdentityServer> {
    const server = createServer();
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    return new GoogleIdentityServer(server);
  }

  /** Its base URL, for ENDPOINT_OVERRIDES. */
  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** ENDPOINT_OVERRIDES entries sending every identity host here. */
  get overrides(): Record<string, string> {
    return Object.fromEntries(
      [
        'www.googleapis.com',
        'iamcredentials.googleapis.com',
        'oauth2.googleapis.com',
      ].map(host => [host, this.baseUrl]),
    );
  }

  /** A JWT signed with the stand-in's key, as Google signs ID tokens. */
  sign(claims: Record<string, unknown>): string {
    const unsigned = `${base64url({alg: 'RS256', typ: 'JWT', kid: KEY_ID})}.${base64url(claims)}`;
    const signature = createSign('RSA-SHA256')
      .update(unsigned)
      .sign(this.keys.privateKey)
      .toString('base64url');
    return `${unsigned}.${signature}`;
  }

  /** A Google-style ID token for `email` with audience `aud`; `extra` overrides any claim. */
  idToken(email: string, aud: string, extra: Record<string, unknown> = {}) {
    const iat = Math.floor(Date.now() / 1000);
    return this.sign({
      iss: 'https://accounts.google.com',
      aud,
      sub: randomBytes(8).toString('hex'),
      email,
      email_verified: true,
      iat,
      exp: iat + 3600,
      ...extra,
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }

  private async answer(req: IncomingMessage): Promise<[number, unknown]> {
    const body = await readBody(req);
    const path = new URL(req.url ?? '/', this.baseUrl).pathname;
    if (req.method === 'GET' && path === '/oauth2/v1/certs') {
      const pem = this.keys.publicKey.export({type: 'spki', format: 'pem'});
      return [200, {[KEY_ID]: pem}];
    }
    const signJwt =
      /^\/v1\/projects\/-\/serviceAccounts\/([^/]+):signJwt$/.exec(path);
    if (req.method === 'POST' && signJwt) {
      const {payload} = JSON.parse(body) as {payload: string};
      const claims = JSON.parse(payload) as Record<string, unknown>;
      this.signJwtCalls.push({
        serviceAccount: decodeURIComponent(signJwt[1]),
        claims,
        authorization: req.headers.authorization,
      });
      if (this.signJwtRefusal)
        return [this.signJwtRefusal.status, this.signJwtRefusal.body];
      return [200, {keyId: KEY_ID, signedJwt: this.sign(claims)}];
    }
    if (req.method === 'POST' && path === '/token') {
      const form = new URLSearchParams(body);
      this.exchanges.push({
        grantType: form.get('grant_type'),
        claims: claimsOf(form.get('assertion') ?? ''),
      });
      if (this.tokenRefusal)
        return [this.tokenRefusal.status, this.tokenRefusal.body];
      const token = `ya29.delegated-${randomBytes(12).toString('hex')}`;
      this.issued.push(token);
      return [
        200,
        {access_token: token, expires_in: 3599, token_type: 'Bearer'},
      ];
    }
    return [404, {error: {code: 404, message: `no ${req.method} ${path}`}}];
  }
}
