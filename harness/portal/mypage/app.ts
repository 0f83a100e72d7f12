/**
 * My Page (Sendai-like, with card linking through an xID-like app) as an app factory:
 * `buildMyPageApp(options)` returns a ready fastify instance and never listens (server.ts does).
 * One plugin per route area: accounts, card linking (browser pages and the phone app's API), the
 * digital post box, and the test API (test mode only). Like the other portals it trusts the test CA
 * through its certificates, CRLs and card-info key only.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { cardInfoKeyFrom } from '../card-info.js';
import type { Verifier } from '../verification/types.js';
import { kOnlineApplications, type OnlineApplication } from './catalogue.js';
import { Outbox } from './codes.js';
import type { MyPageContext } from './context.js';
import { openMyPageDatabase } from './db.js';
import { MyPageError, type MyPageErrorCode } from './errors.js';
import { LinkTransactions } from './link-transactions.js';
import { accountRoutes } from './routes/account.js';
import { linkPageRoutes, xidApiRoutes } from './routes/link.js';
import { postBoxRoutes } from './routes/post-box.js';
import { testApiRoutes } from './routes/test-api.js';
import { MyPageSessions } from './sessions.js';
import { MyPageStore } from './store.js';
import { renderError } from './views.js';

declare module 'fastify' {
  interface FastifyInstance {
    myPageContext: MyPageContext;
  }
}

export interface MyPageOptions {
  /** The portal's URL as browsers and phones reach it; a function when known only after listening. */
  publicUrl: string | (() => string);
  verifier: Verifier;
  /** The card-info AP's public key (KeyObject, PEM or DER SPKI). */
  cardInfoPublicKey: KeyObject | Uint8Array;
  /** SQLite file path, or ':memory:' (default). */
  db?: string;
  /** Signs the session cookie; random when absent. */
  cookieSecret?: string;
  now?: () => Date;
  /** The online applications listed on My Page; a small fixed catalogue by default. */
  applications?: readonly OnlineApplication[];
  /** Turns on GET /api/test/outbox and error details. */
  testMode?: boolean;
  logger?: boolean;
}

const kCsp = "default-src 'self'; img-src 'self' data:; script-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export async function buildMyPageApp(options: MyPageOptions): Promise<FastifyInstance> {
  const cookieSecret = options.cookieSecret ?? randomBytes(32).toString('base64url');
  if (cookieSecret.length < 16) throw new TypeError('cookieSecret must be at least 16 characters');
  const publicUrl = options.publicUrl;
  const resolveUrl = (): string => (typeof publicUrl === 'function' ? publicUrl() : publicUrl).replace(/\/$/, '');
  const now = options.now ?? (() => new Date());
  const db = openMyPageDatabase(options.db ?? ':memory:');
  const ctx: MyPageContext = {
    store: new MyPageStore(db),
    sessions: new MyPageSessions(now, () => resolveUrl().startsWith('https:')),
    outbox: new Outbox(),
    transactions: new LinkTransactions(now),
    verifier: options.verifier,
    cardInfoKey: cardInfoKeyFrom(options.cardInfoPublicKey),
    applications: options.applications ?? kOnlineApplications,
    publicUrl: resolveUrl,
    now,
    testMode: options.testMode ?? false,
  };
  const app = Fastify({ logger: options.logger ?? false, ajv: { customOptions: { removeAdditional: false } } });
  app.decorate('myPageContext', ctx);
  app.addHook('onClose', async () => {
    db.close();
  });

  const send = (request: FastifyRequest, reply: FastifyReply, error: MyPageError): FastifyReply => {
    reply.code(error.status);
    if (request.url.startsWith('/api/')) {
      return reply.type('application/json; charset=utf-8').send({ code: error.code, message: error.userMessage, ...(ctx.testMode && error.detail ? { detail: error.detail } : {}) });
    }
    return reply.type('text/html; charset=utf-8').send(renderError(error.code, error.userMessage, ctx.testMode ? error.detail : undefined));
  };
  app.setErrorHandler((error: FastifyError | MyPageError, request, reply) => {
    if (error instanceof MyPageError) return send(request, reply, error);
    let code: MyPageErrorCode = 'INTERNAL_ERROR';
    if (error.validation || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) code = 'BAD_REQUEST';
    else request.log.error(error);
    return send(request, reply, new MyPageError(code, error.message));
  });
  app.setNotFoundHandler((request, reply) => send(request, reply, new MyPageError('NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`)));
  app.addHook('onSend', async (_request, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('content-security-policy', kCsp);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  await app.register(fastifyCookie, { secret: cookieSecret });
  await app.register(fastifyFormbody);
  await app.register(async (browser) => {
    ctx.sessions.register(browser);
    await browser.register(accountRoutes, { ctx });
    await browser.register(postBoxRoutes, { ctx });
    await browser.register(linkPageRoutes, { ctx });
  });
  await app.register(xidApiRoutes, { ctx });
  if (ctx.testMode) await app.register(testApiRoutes, { ctx });
  await app.ready();
  return app;
}
