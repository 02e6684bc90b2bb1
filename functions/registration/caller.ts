/**
 * Who is calling the registration API: the Google-signed ID token in `Authorization: Bearer …`, verified with
 * google-auth-library against Google's certificates (fetched through ENDPOINT_OVERRIDES like any Google host, so
 * a test can stand in for them) and the function's own URLs as audience. The caller's e-mail owns what they
 * register, and names their tenant (TENANTS).
 *
 * The owner is the identity Cloud Run's IAM checked: when `X-Serverless-Authorization` is present, IAM checks
 * that header and passes `Authorization` through unchecked, so the token comes from it, never from
 * `Authorization`. Otherwise one invoker could send any number of other identities' tokens and act as as many
 * owners. Cloud Run may strip that token's signature before the container sees it; a token without one is
 * refused (401) rather than trusted, so a mistake in IAM still does not let anyone in.
 */
import type {Request} from '@google-cloud/functions-framework';
import {OAuth2Client} from 'google-auth-library';
import type {RegistrationConfig} from '../core/config';
import {ANONYMOUS} from '../core/model';
import {tenantOf} from '../core/tenants';

/** Where Google publishes the keys of its ID tokens (PEM), on a host ENDPOINT_OVERRIDES may redirect. */
const CERTS_HOST = 'www.googleapis.com';
const CERTS_PATH = '/oauth2/v1/certs';

/** A verified caller. */
export interface Caller {
  /** The token's e-mail, or `anonymous` when the deployment allows unauthenticated calls. */
  principal: string;
  /** True for ADMIN_PRINCIPALS: they see and cancel every owner's registrations. */
  admin: boolean;
  /** The caller's tenant (TENANTS); absent without tenants, or for a caller in none. */
  tenant?: string;
  /** True for the tenant's `admins`: they read the tenant's figures (`GET /stats`). */
  tenantAdmin?: boolean;
}

/** Why a caller could not be identified; the API answers 401 with this message. */
export class UnauthenticatedError extends Error {}

/** Identifies callers of the registration API. */
export class CallerIdentity {
  private readonly client: OAuth2Client;

  constructor(
    private readonly config: Pick<
      RegistrationConfig,
      | 'allowUnauthenticated'
      | 'functionUrls'
      | 'adminPrincipals'
      | 'endpointOverrides'
      | 'tenants'
    >,
  ) {
    const base = config.endpointOverrides.get(CERTS_HOST);
    this.client = new OAuth2Client(
      base
        ? {endpoints: {oauth2FederatedSignonPemCertsUrl: base + CERTS_PATH}}
        : {},
    );
  }

  /**
   * The caller of `req`.
   * @throws UnauthenticatedError without a valid ID token, unless unauthenticated calls are allowed.
   */
  async identify(req: Request): Promise<Caller> {
    if (this.config.allowUnauthenticated) {
      return {
        principal: ANONYMOUS,
        admin: this.config.adminPrincipals.includes(ANONYMOUS),
      };
    }
    const email = await this.verifiedEmail(bearerToken(req));
    const tenant = this.config.tenants && tenantOf(this.config.tenants, email);
    return {
      principal: email,
      admin: this.config.adminPrincipals.includes(email),
      ...(tenant && {
        tenant: tenant.name,
        tenantAdmin: tenant.admins.includes(email),
      }),
    };
  }

  /** The verified e-mail of `idToken`. */
  private async verifiedEmail(idToken: string): Promise<string> {
    let email: string | undefined;
    try {
      const ticket = await this.client.verifyIdToken({
        idToken,
        audience: this.config.functionUrls,
      });
      const payload = ticket.getPayload();
      if (payload?.email_verified) email = payload.email?.toLowerCase();
    } catch (error) {
      throw new UnauthenticatedError(
        `the ID token is not valid for this function: ${(error as Error).message}`,
      );
    }
    if (!email) {
      throw new UnauthenticatedError(
        'the ID token carries no verified e-mail: mint it with the e-mail claim (e.g. gcloud auth print-identity-token)',
      );
    }
    return email;
  }
}

/** The ID token IAM checked: from `X-Serverless-Authorization` when present, else from `Authorization`. */
function bearerToken(req: Request): string {
  const serverless = req.headers['x-serverless-authorization'];
  const header = serverless ?? req.headers.authorization;
  const name =
    serverless !== undefined ? 'X-Serverless-Authorization' : 'Authorization';
  const match = /^Bearer\s+(\S+)$/i.exec(
    typeof header === 'string' ? header : '',
  );
  if (!match) {
    throw new UnauthenticatedError(
      `send a Google-signed ID token as ${name}: Bearer <token>`,
    );
  }
  const [, , signature] = match[1].split('.');
  if (!signature) {
    throw new UnauthenticatedError(
      `the ID token in ${name} carries no signature (Cloud Run strips it from X-Serverless-Authorization): send the token as Authorization: Bearer <token> alone`,
    );
  }
  return match[1];
}
