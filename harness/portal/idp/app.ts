/**
 * The identity provider as an app factory, shaped like PocketSign / the Digital Auth App:
 * `buildIdpApp(options)` returns a ready fastify instance and never listens (server.ts does). Two
 * plugins: the OpenID Connect endpoints (oidc-routes.ts) and the phone app's API (app-routes.ts).
 * Like the portal it trusts the test CA through its certificates, CRLs and card-info key only.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { browserInputPlugin } from '../shared/browser-input.js';
import { cardInfoKeyFrom } from '../shared/card-info.js';
import { errorAnswersPlugin } from '../shared/error-answers.js';
import { cookieSecretOf, portalFastify, publicUrlOf } from '../shared/portal-setup.js';
import { securityHeadersPlugin } from '../shared/security-headers.js';
import { kDefaultSignatureApiLimit, registerLimitedApi } from '../shared/signature-api-limit.js';
import { flawSet, type PortalFlaw } from '../shared/flaws.js';
import type { HolderDirectory } from '../shared/holders.js';
import type { Verifier } from '../verification/types.js';
import { appRoutes } from './app-routes.js';
import type { IdpClient, IdpContext } from './context.js';
import { IdpError, type IdpErrorCode } from './errors.js';
import { signingKeyFrom } from './jwt.js';
import { oidcRoutes } from './oidc-routes.js';
import { IdpStore } from './store.js';
import { renderErrorPage } from './views.js';

declare module 'fastify' {
  interface FastifyInstance {
    idpContext: IdpContext;
  }
}

export interface IdpOptions {
  /** The IdP's URL as browsers, phones and clients reach it (`iss`); a function when known only after listening. */
  issuer: string | (() => string);
  clients: readonly IdpClient[];
  verifier: Verifier;
  /** The card-info AP's public key (KeyObject, PEM or DER SPKI). */
  cardInfoPublicKey: KeyObject | Uint8Array;
  /** The issuer's certificate-to-person register (../holders.ts). */
  holders: HolderDirectory;
  /** Mistakes to make on purpose (../flaws.ts): `trust-client-card-info`. */
  flaws?: readonly (PortalFlaw | string)[];
  /** Signs the browser cookie; at least 16 characters. */
  cookieSecret: string;
  /** The ID token key; generated when absent. */
  signingKey?: KeyObject;
  /** Derives the stable `sub`; random when absent (then stable for the life of the process). */
  subjectSecret?: string;
  now?: () => Date;
  /** Error pages and app answers carry the detail. */
  testMode?: boolean;
  /** The per-address limit of the phone app's API, which checks card signatures; false turns it off. */
  appRateLimit?: { max: number; timeWindowMs: number } | false;
  logger?: boolean;
}

const kCsp = "default-src 'self'; img-src 'self' data:; script-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export async function buildIdpApp(options: IdpOptions): Promise<FastifyInstance> {
  const cookieSecret = cookieSecretOf(options.cookieSecret);
  const ctx: IdpContext = {
    issuer: publicUrlOf(options.issuer),
    clients: options.clients,
    verifier: options.verifier,
    cardInfoKey: cardInfoKeyFrom(options.cardInfoPublicKey),
    holders: options.holders,
    flaws: flawSet(options.flaws),
    signingKey: signingKeyFrom(options.signingKey),
    store: new IdpStore(options.subjectSecret ?? randomBytes(32).toString('base64url')),
    now: options.now ?? (() => new Date()),
    testMode: options.testMode ?? false,
  };
  const app = portalFastify(options.logger);
  app.decorate('idpContext', ctx);
  await app.register(errorAnswersPlugin<IdpErrorCode>, {
    errorClass: IdpError,
    codes: { badRequest: 'invalid_request', notFound: 'NOT_FOUND', internal: 'server_error' },
    withDetail: ctx.testMode,
    // The page says what was wrong whatever the mode: the person is sent back to the client.
    page: (error) => renderErrorPage(error.code, error.detail),
    json: (request, error) => (request.routeOptions.config?.oauthJson && error instanceof IdpError ? error.oauthBody() : undefined),
  });
  await app.register(securityHeadersPlugin, { contentSecurityPolicy: kCsp });
  await app.register(browserInputPlugin, { cookieSecret });
  await app.register(oidcRoutes, { ctx });
  await registerLimitedApi(app, options.appRateLimit ?? kDefaultSignatureApiLimit, (message) => new IdpError('RATE_LIMITED', message), async (api) => {
    await api.register(appRoutes, { ctx });
  });
  await app.ready();
  return app;
}
