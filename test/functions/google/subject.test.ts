/**
 * `subject` (Workspace domain-wide delegation) through google-auth-library's real ADC path: a service-account key
 * file signs an assertion JWT whose `sub` is the subject, a local OAuth token endpoint checks its signature and
 * answers, and the poller sends the token it got to the operations API. Credentials without a key (the metadata
 * server's) delegate through IAM Credentials; its refusals end with PermanentTokenError rather than quietly
 * polling as the service account.
 *
 * google-auth-library 11 ignores a key file's `token_uri` and always posts to Google's token URL, and its JWT
 * client has its own gaxios instance, whose default fetch (node-fetch, loaded with `import()`) fails under jest.
 * So every gaxios request gets a fetch implementation that sends the token URL to the local endpoint.
 */
import {gaxios} from 'google-auth-library';
import {
  createVerify,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {
  AdcTokenSource,
  OperationsClient,
  PermanentTokenError,
} from '../../../functions/google/operations-client';
import {validateRegistration} from '../../../functions/registration/validation';
import {useFakeMetadataServer} from '../../support/use-metadata-server';
import {FakeOperationsServer} from '../../support/fake-operations-server';
import {GoogleIdentityServer} from '../../support/google-identity-server';

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const AUTH = 'https://www.googleapis.com/auth/';
const SUBJECT = 'alice@example.com';
const CLIENT_EMAIL = 'poller@demo-opwatch.iam.gserviceaccount.com';

/** The claims of one assertion the token endpoint received, after checking its signature. */
interface Assertion {
  iss: string;
  sub?: string;
  scope: string;
  aud: string;
  iat: number;
  exp: number;
}

/**
 * A stand-in for Google's OAuth token endpoint: the JWT-bearer grant, with the admin console's "authorised
 * scopes" of domain-wide delegation (a request for any other scope is `unauthorized_client`, as Google answers).
 */
class FakeTokenEndpoint {
  readonly assertions: Assertion[] = [];
  readonly issued: string[] = [];

  private constructor(
    private readonly server: Server,
    private readonly publicKey: KeyObject,
    private readonly authorisedScopes: Set<string>,
  ) {
    server.on('request', (req, res) => {
      let body = '';
      req.on('data', chunk => (body += chunk));
      req.on('end', () => {
        const [status, answer] = this.answer(new URLSearchParams(body));
        res.writeHead(status, {'content-type': 'application/json'});
        res.end(JSON.stringify(answer));
      });
    });
  }

  static async start(publicKey: KeyObject, authorisedScopes: string[]) {
    const server = createServer();
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    return new FakeTokenEndpoint(server, publicKey, new Set(authorisedScopes));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/token`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise(resolve => this.server.close(resolve));
  }

  private answer(form: URLSearchParams): [number, object] {
    const [header, payload, signature] = (form.get('assertion') ?? '').split(
      '.',
    );
    const verified = createVerify('RSA-SHA256')
      .update(`${header}.${payload}`)
      .verify(this.publicKey, Buffer.from(signature ?? '', 'base64url'));
    if (
      form.get('grant_type') !==
        'urn:ietf:params:oauth:grant-type:jwt-bearer' ||
      !verified
    ) {
      return [400, {error: 'invalid_grant', error_description: 'bad JWT'}];
    }
    const claims = JSON.parse(
      Buffer.from(payload, 'base64url').toString(),
    ) as Assertion;
    this.assertions.push(claims);
    const scopes = claims.scope.split(' ');
    if (claims.sub && scopes.some(s => !this.authorisedScopes.has(s))) {
      return [
        401,
        {
          error: 'unauthorized_client',
          error_description:
            'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
        },
      ];
    }
    const token = `ya29.dwd-${randomBytes(8).toString('hex')}`;
    this.issued.push(token);
    return [200, {access_token: token, expires_in: 3599, token_type: 'Bearer'}];
  }
}

/** Sets variables for one test file and puts them back after it. */
function setEnv(values: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(
    Object.keys(values).map(key => [key, process.env[key]]),
  );
  const apply = (from: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(from)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(values);
  return () => apply(saved);
}

const CHAT_READ = `${AUTH}chat.messages.readonly`;
const OPERATION_NAME = 'operations/subscriptions/c3Vic2NyaXB0aW9uLTE';
const context = {
  projectId: 'demo-opwatch',
  defaultTopic: 'projects/demo-opwatch/topics/opwatch-notifications',
  endpointOverrides: new Map<string, string>(),
};

describe('a subject with a service-account key file', () => {
  let tokens: FakeTokenEndpoint;
  let operationsApi: FakeOperationsServer;
  let directory: string;
  let restoreEnv: () => void;
  const realRequest = gaxios.Gaxios.prototype.request;

  beforeAll(async () => {
    const {publicKey, privateKey} = generateKeyPairSync('rsa', {
      modulusLength: 2048,
    });
    tokens = await FakeTokenEndpoint.start(publicKey, [CHAT_READ]);
    operationsApi = await FakeOperationsServer.start();
    directory = mkdtempSync(join(tmpdir(), 'opwatch-subject-'));
    const keyFile = join(directory, 'key.json');
    writeFileSync(
      keyFile,
      JSON.stringify({
        type: 'service_account',
        project_id: 'demo-opwatch',
        private_key_id: randomBytes(20).toString('hex'),
        private_key: privateKey.export({type: 'pkcs8', format: 'pem'}),
        client_email: CLIENT_EMAIL,
        client_id: '100000000000000000002',
        token_uri: tokens.url,
      }),
    );
    restoreEnv = setEnv({
      GOOGLE_APPLICATION_CREDENTIALS: keyFile,
      GOOGLE_CLOUD_PROJECT: 'demo-opwatch',
      // No metadata server may answer for these credentials.
      METADATA_SERVER_DETECTION: 'none',
    });
    const toLocalEndpoint: typeof fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      return fetch(url === GOOGLE_TOKEN_URL ? tokens.url : url, init);
    };
    jest.spyOn(gaxios.Gaxios.prototype, 'request').mockImplementation(function (
      this: gaxios.Gaxios,
      options = {},
    ) {
      return realRequest.call(this, {
        ...options,
        fetchImplementation: toLocalEndpoint,
      });
    });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    restoreEnv();
    rmSync(directory, {recursive: true, force: true});
    await Promise.all([tokens.stop(), operationsApi.stop()]);
  });

  it('signs an assertion with sub = subject and the requested scopes', async () => {
    const token = await new AdcTokenSource().accessToken([CHAT_READ], SUBJECT);

    expect(tokens.issued).toContain(token);
    const assertion = tokens.assertions.at(-1)!;
    expect(assertion).toMatchObject({
      iss: CLIENT_EMAIL,
      sub: SUBJECT,
      scope: CHAT_READ,
      aud: GOOGLE_TOKEN_URL,
    });
    expect(assertion.exp - assertion.iat).toBe(3600);
  });

  it('polls a Workspace Events operation as the subject, with the registration narrowed to one scope', async () => {
    const validated = validateRegistration(
      {
        service: 'workspaceevents.googleapis.com',
        name: OPERATION_NAME,
        subject: SUBJECT,
        scopes: [CHAT_READ],
      },
      context,
    );
    if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
    expect(validated.value).toMatchObject({
      subject: SUBJECT,
      scopes: [CHAT_READ],
    });
    operationsApi.define(OPERATION_NAME, {kind: 'finish', afterMs: 0});
    const client = new OperationsClient({
      endpointOverrides: new Map([
        ['workspaceevents.googleapis.com', operationsApi.baseUrl],
      ]),
      requestTimeoutMs: 5000,
    });

    const result = await client.get(validated.value);

    expect(result.kind).toBe('operation');
    const [request] = operationsApi.requestsFor(OPERATION_NAME);
    expect(request.path).toBe(`/v1beta/${OPERATION_NAME}`);
    expect(request.authorization).toBe(`Bearer ${tokens.issued.at(-1)}`);
    expect(tokens.assertions.at(-1)).toMatchObject({
      sub: SUBJECT,
      scope: CHAT_READ,
    });
  });

  it('ends with PermanentTokenError when delegation does not cover a scope (unauthorized_client)', async () => {
    const source = new AdcTokenSource();
    const scopes = [`${AUTH}chat.spaces`, CHAT_READ];

    await expect(source.accessToken(scopes, SUBJECT)).rejects.toThrow(
      PermanentTokenError,
    );
    await expect(source.accessToken(scopes, SUBJECT)).rejects.toThrow(
      /unauthorized_client/,
    );
    expect(tokens.assertions.at(-1)).toMatchObject({
      sub: SUBJECT,
      scope: scopes.join(' '),
    });
  });

  it('asks for the scopes without a sub when no subject is given', async () => {
    await new AdcTokenSource().accessToken([`${AUTH}cloud-platform`]);

    const assertion = tokens.assertions.at(-1)!;
    expect(assertion.sub).toBeUndefined();
    expect(assertion.scope).toBe(`${AUTH}cloud-platform`);
  });
});

describe('a subject with metadata-server (Compute) credentials', () => {
  // No key to sign with: delegation goes through IAM Credentials (see delegation.test.ts for the whole flow).
  // Here, refusals: each ends the watch for good rather than polling as the service account.
  const metadata = useFakeMetadataServer();
  let identity: GoogleIdentityServer;
  let overrides: Map<string, string>;

  beforeAll(async () => {
    identity = await GoogleIdentityServer.start();
    overrides = new Map(Object.entries(identity.overrides));
  });

  afterAll(() => identity.stop());

  afterEach(() => {
    identity.signJwtRefusal = undefined;
    identity.tokenRefusal = undefined;
  });

  it('is refused with PermanentTokenError when signJwt is denied, and the subject never gets a token', async () => {
    identity.signJwtRefusal = {
      status: 403,
      body: {error: {code: 403, status: 'PERMISSION_DENIED'}},
    };
    const source = new AdcTokenSource(overrides);

    await expect(source.accessToken([CHAT_READ], SUBJECT)).rejects.toThrow(
      PermanentTokenError,
    );
    expect(identity.signJwtCalls.at(-1)?.claims).toMatchObject({
      sub: SUBJECT,
    });
    expect(identity.exchanges).toEqual([]);
    // The same credentials without a subject do work: the refusal is about the subject.
    await expect(source.accessToken([CHAT_READ])).resolves.toMatch(/^ya29\./);
    expect(metadata().tokenRequests.length).toBeGreaterThan(0);
  });

  it('ends the poll as rejected (not retried as transient) when the token endpoint refuses, without calling the API', async () => {
    identity.tokenRefusal = {
      status: 401,
      body: {error: 'unauthorized_client', error_description: 'not authorised'},
    };
    const operationsApi = await FakeOperationsServer.start();
    overrides.set('workspaceevents.googleapis.com', operationsApi.baseUrl);
    const client = new OperationsClient({
      endpointOverrides: overrides,
      requestTimeoutMs: 2000,
    });
    const result = await client.get({
      operation: {
        service: 'workspaceevents.googleapis.com',
        version: 'v1beta',
        name: OPERATION_NAME,
        url: `https://workspaceevents.googleapis.com/v1beta/${OPERATION_NAME}`,
      },
      scopes: [CHAT_READ],
      subject: SUBJECT,
      style: 'longrunning',
    });
    await operationsApi.stop();

    expect(result).toMatchObject({
      kind: 'rejected',
      error: {
        kind: 'network',
        message: expect.stringMatching(/unauthorized_client/),
      },
    });
    expect(operationsApi.requests).toEqual([]);
  });
});
