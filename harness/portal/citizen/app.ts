/**
 * The city portal (Nobeoka-like, with PocketSign / Digital Auth App linking) as an app factory:
 * `buildCitizenApp(options)` returns a ready fastify instance and never listens (server.ts does).
 * One plugin per route area: account pages, registration, linking, and the test API (test mode only).
 * It knows the IdP only as an OpenID Connect provider over HTTP.
 */
import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Outbox } from './codes.js';
import type { CitizenContext } from './context.js';
import { openCitizenDatabase } from './db.js';
import { CitizenError, type CitizenErrorCode } from './errors.js';
import { OidcClient, type OidcClientFaults, type OidcClientOptions } from './oidc-client.js';
import { accountRoutes } from './routes/account.js';
import { linkRoutes } from './routes/link.js';
import { registrationRoutes } from './routes/registration.js';
import { testApiRoutes } from './routes/test-api.js';
import { CitizenSessions } from './sessions.js';
import { CitizenStore } from './store.js';
import { renderError } from './views.js';

declare module 'fastify' {
  interface FastifyInstance {
    citizenContext: CitizenContext;
  }
}

export interface CitizenOptions {
  /** The portal's URL as browsers reach it; a function when known only after listening. */
  publicUrl: string | (() => string);
  /** The IdP and this portal's registration with it. */
  idp: OidcClientOptions;
  /** SQLite file path, or ':memory:' (default). */
  db?: string;
  /** Signs the session cookie; random when absent. */
  cookieSecret?: string;
  /** The clock behind code expiry, sessions and ID token checks. */
  now?: () => Date;
  /** Turns on GET /api/test/outbox and error details on the error page. */
  testMode?: boolean;
  /** Deliberate client misbehaviour for negative scenarios. */
  faults?: OidcClientFaults;
  logger?: boolean;
}

/** No scripts at all; forms post to the portal, whose 「連携する」 redirects on to the IdP. */
function contentSecurityPolicy(idpOrigin: string): string {
  return `default-src 'self'; img-src 'self' data:; script-src 'none'; style-src 'self'; form-action 'self' ${idpOrigin}; frame-ancestors 'none'; base-uri 'none'`;
}

export async function buildCitizenApp(options: CitizenOptions): Promise<FastifyInstance> {
  const cookieSecret = options.cookieSecret ?? randomBytes(32).toString('base64url');
  if (cookieSecret.length < 16) throw new TypeError('cookieSecret must be at least 16 characters');
  const publicUrl = options.publicUrl;
  const resolveUrl = (): string => (typeof publicUrl === 'function' ? publicUrl() : publicUrl).replace(/\/$/, '');
  const now = options.now ?? (() => new Date());
  const db = openCitizenDatabase(options.db ?? ':memory:');
  const ctx: CitizenContext = {
    store: new CitizenStore(db),
    sessions: new CitizenSessions(now, () => resolveUrl().startsWith('https:')),
    outbox: new Outbox(),
    oidc: new OidcClient(options.idp, options.faults),
    publicUrl: resolveUrl,
    now,
    testMode: options.testMode ?? false,
  };
  const app = Fastify({ logger: options.logger ?? false });
  app.decorate('citizenContext', ctx);
  app.addHook('onClose', async () => {
    db.close();
  });

  const send = (request: FastifyRequest, reply: FastifyReply, error: CitizenError): FastifyReply => {
    reply.code(error.status);
    if (request.url.startsWith('/api/')) {
      return reply.type('application/json; charset=utf-8').send({ code: error.code, message: error.userMessage, ...(ctx.testMode && error.detail ? { detail: error.detail } : {}) });
    }
    return reply.type('text/html; charset=utf-8').send(renderError(error.code, error.userMessage, ctx.testMode ? error.detail : undefined));
  };
  app.setErrorHandler((error: FastifyError | CitizenError, request, reply) => {
    if (error instanceof CitizenError) return send(request, reply, error);
    let code: CitizenErrorCode = 'INTERNAL_ERROR';
    if (error.validation || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) code = 'BAD_REQUEST';
    else request.log.error(error);
    return send(request, reply, new CitizenError(code, error.message));
  });
  app.setNotFoundHandler((request, reply) => send(request, reply, new CitizenError('NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`)));
  app.addHook('onSend', async (_request, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('content-security-policy', contentSecurityPolicy(new URL(ctx.oidc.issuer).origin));
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  await app.register(fastifyCookie, { secret: cookieSecret });
  await app.register(fastifyFormbody);
  await app.register(async (browser) => {
    ctx.sessions.register(browser);
    await browser.register(accountRoutes, { ctx });
    await browser.register(registrationRoutes, { ctx });
    await browser.register(linkRoutes, { ctx });
  });
  if (ctx.testMode) await app.register(testApiRoutes, { ctx });
  await app.ready();
  return app;
}
