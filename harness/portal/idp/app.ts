/**
 * The identity provider as an app factory, shaped like PocketSign / the Digital Auth App:
 * `buildIdpApp(options)` returns a ready fastify instance and never listens (server.ts does). Two
 * plugins: the OpenID Connect endpoints (oidc-routes.ts) and the phone app's API (app-routes.ts).
 * Like the portal it trusts the test CA through its certificates, CRLs and card-info key only.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { cardInfoKeyFrom } from '../shared/card-info.js';
import { kDefaultSignatureApiLimit, registerLimitedApi } from '../shared/signature-api-limit.js';
import { flawSet, type PortalFlaw } from '../shared/flaws.js';
import type { HolderDirectory } from '../shared/holders.js';
import type { Verifier } from '../verification/types.js';
import { appRoutes } from './app-routes.js';
import type { IdpClient, IdpContext } from './context.js';
import { IdpError } from './errors.js';
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
  if (options.cookieSecret.length < 16) throw new TypeError('cookieSecret must be at least 16 characters');
  const issuer = options.issuer;
  const ctx: IdpContext = {
    issuer: typeof issuer === 'function' ? () => issuer().replace(/\/$/, '') : () => issuer.replace(/\/$/, ''),
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
  const app = Fastify({ logger: options.logger ?? false, ajv: { customOptions: { removeAdditional: false } } });
  app.decorate('idpContext', ctx);

  const send = (request: FastifyRequest, reply: FastifyReply, error: IdpError): FastifyReply => {
    reply.code(error.status);
    if (request.url.startsWith('/api/')) return reply.type('application/json; charset=utf-8').send(error.appBody(ctx.testMode));
    if (request.routeOptions.config?.oauthJson) return reply.type('application/json; charset=utf-8').send(error.oauthBody());
    return reply.type('text/html; charset=utf-8').send(renderErrorPage(error.code, error.detail));
  };
  app.setErrorHandler((error: FastifyError | IdpError, request, reply) => {
    if (error instanceof IdpError) return send(request, reply, error);
    if (error.validation || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) {
      return send(request, reply, new IdpError('invalid_request', error.message));
    }
    request.log.error(error);
    return send(request, reply, new IdpError('server_error', ctx.testMode ? error.message : 'internal error'));
  });
  app.setNotFoundHandler((request, reply) => send(request, reply, new IdpError('NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`)));
  app.addHook('onSend', async (_request, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('content-security-policy', kCsp);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  await app.register(fastifyCookie, { secret: options.cookieSecret });
  await app.register(fastifyFormbody);
  await app.register(oidcRoutes, { ctx });
  await registerLimitedApi(app, options.appRateLimit ?? kDefaultSignatureApiLimit, (message) => new IdpError('RATE_LIMITED', message), async (api) => {
    await api.register(appRoutes, { ctx });
  });
  await app.ready();
  return app;
}
