/**
 * What the app factories of the small portals (city portal, My Page) share: the options every one
 * takes, and the fastify instance around the portal's routes — errors as the registry's page (JSON
 * under /api/), security headers, cookies, form bodies, and the pages behind the browser sessions.
 */
import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { RegistryError } from './errors.js';

export interface SmallPortalOptions {
  /** The portal's URL as browsers (and phones) reach it; a function when known only after listening. */
  publicUrl: string | (() => string);
  /** SQLite file path, or ':memory:' (default). */
  db?: string;
  /** Signs the session cookie; random when absent. */
  cookieSecret?: string;
  /** The clock behind code expiry, sessions and the portal's own checks. */
  now?: () => Date;
  /** Turns on GET /api/test/outbox and error details on the error page. */
  testMode?: boolean;
  /** Deliberate flaws, for proving that a negative scenario catches them (never for a real run). */
  defects?: SmallPortalDefects;
  logger?: boolean;
}

export interface SmallPortalDefects {
  /** SMS and e-mail codes resent at will, each with 5 fresh tries, no lockout: the code can be brute-forced. */
  unlimitedCodes?: boolean;
  /** No throttling of password logins. */
  unlimitedPasswordTries?: boolean;
}

export interface SmallPortalBasics {
  cookieSecret: string;
  /** The public URL without a trailing slash. */
  publicUrl: () => string;
  now: () => Date;
  /** Whether cookies are Secure: the portal is reached over https. */
  secure: () => boolean;
  testMode: boolean;
  defects: SmallPortalDefects;
}

export function smallPortalBasics(options: SmallPortalOptions): SmallPortalBasics {
  const cookieSecret = options.cookieSecret ?? randomBytes(32).toString('base64url');
  if (cookieSecret.length < 16) throw new TypeError('cookieSecret must be at least 16 characters');
  const publicUrl = options.publicUrl;
  const resolveUrl = (): string => (typeof publicUrl === 'function' ? publicUrl() : publicUrl).replace(/\/$/, '');
  return {
    cookieSecret,
    publicUrl: resolveUrl,
    now: options.now ?? (() => new Date()),
    secure: () => resolveUrl().startsWith('https:'),
    testMode: options.testMode ?? false,
    defects: options.defects ?? {},
  };
}

export interface SmallPortalApp {
  fastify: FastifyServerOptions;
  /** The FastifyInstance property (declared by the portal) that carries `context`. */
  contextProperty: string;
  context: unknown;
  cookieSecret: string;
  testMode: boolean;
  /** Closed with the app. */
  db: { close(): void };
  /** The portal's error class: what its routes throw, and what the app refuses with. */
  errorClass: new (code: 'BAD_REQUEST' | 'NOT_FOUND' | 'INTERNAL_ERROR', detail: string) => RegistryError;
  renderError: (code: string, message: string, detail: string | undefined) => string;
  /** The Content-Security-Policy of HTML responses, asked for each response. */
  contentSecurityPolicy: () => string;
  sessions: { register(app: FastifyInstance): void };
  /** The browser's pages, registered behind the sessions' cookie and CSRF check. */
  pages: (browser: FastifyInstance) => Promise<void>;
  /** Registered after the pages and outside the sessions: APIs with credentials of their own. */
  apis?: (app: FastifyInstance) => Promise<void>;
  /** The test API, registered last and in test mode only. */
  testApi: (app: FastifyInstance) => Promise<void>;
}

/** Returns the ready app; it never listens (../shared/listen.ts does). */
export async function buildSmallPortalApp(setup: SmallPortalApp): Promise<FastifyInstance> {
  const app = Fastify(setup.fastify);
  app.decorate(setup.contextProperty, setup.context);
  app.addHook('onClose', async () => {
    setup.db.close();
  });

  const send = (request: FastifyRequest, reply: FastifyReply, error: RegistryError): FastifyReply => {
    reply.code(error.status);
    if (request.url.startsWith('/api/')) {
      return reply.type('application/json; charset=utf-8').send({ code: error.code, message: error.userMessage, ...(setup.testMode && error.detail ? { detail: error.detail } : {}) });
    }
    return reply.type('text/html; charset=utf-8').send(setup.renderError(error.code, error.userMessage, setup.testMode ? error.detail : undefined));
  };
  app.setErrorHandler((error: FastifyError | RegistryError, request, reply) => {
    if (error instanceof setup.errorClass) return send(request, reply, error);
    let code: 'BAD_REQUEST' | 'INTERNAL_ERROR' = 'INTERNAL_ERROR';
    if (error.validation || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) code = 'BAD_REQUEST';
    else request.log.error(error);
    return send(request, reply, new setup.errorClass(code, error.message));
  });
  app.setNotFoundHandler((request, reply) => send(request, reply, new setup.errorClass('NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`)));
  app.addHook('onSend', async (_request, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('content-security-policy', setup.contentSecurityPolicy());
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  await app.register(fastifyCookie, { secret: setup.cookieSecret });
  await app.register(fastifyFormbody);
  await app.register(async (browser) => {
    setup.sessions.register(browser);
    await setup.pages(browser);
  });
  if (setup.apis) await setup.apis(app);
  if (setup.testMode) await setup.testApi(app);
  await app.ready();
  return app;
}
