/**
 * Who is calling the registration API: the Google-signed ID token in `Authorization: Bearer …`, verified with
 * google-auth-library against Google's certificates (fetched through ENDPOINT_OVERRIDES like any Google host, so
 * a test can stand in for them) and the function's own URLs as audience. The caller's e-mail owns what they
 * register.
 */
import type {Request} from '@google-cloud/functions-framework';
import {OAuth2Client} from 'google-auth-library';
import type {RegistrationConfig} from '../core/config';
import {ANONYMOUS} from '../core/model';

/** Where Google publishes the keys of its ID tokens (PEM), on a host ENDPOINT_OVERRIDES may redirect. */
const CERTS_HOST = 'www.googleapis.com';
const CERTS_PATH = '/oauth2/v1/certs';

/** A verified caller. */
export interface Caller {
  /** The token's e-mail, or `anonymous` when the deployment allows unauthenticated calls. */
  principal: string;
  /** True for ADMIN_PRINCIPALS: they see and cancel every owner's registrations. */
  admin: boolean;
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
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match) {
      throw new UnauthenticatedError(
        'send a Google-signed ID token as Authorization: Bearer <token>',
      );
    }
    let email: string | undefined;
    try {
      const ticket = await this.client.verifyIdToken({
        idToken: match[1],
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
    return {
      principal: email,
      admin: this.config.adminPrincipals.includes(email),
    };
  }
}
