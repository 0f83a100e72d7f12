/**
 * The mock portal as an app factory: `buildApp(options)` returns a ready fastify instance and never
 * listens (server.ts does; tests use `inject()`). One plugin per route area, all sharing one
 * `PortalContext`; every refusal goes through the portals' one error handler
 * (../shared/error-answers.ts), as `{ code, message }` for the API and as the error page (E-01) for pages.
 */
import { createHmac, createPublicKey, type KeyObject } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { browserInputPlugin } from '../shared/browser-input.js';
import { browserScripts } from '../shared/browser-scripts.js';
import { browserSessionsPlugin } from '../shared/browser-sessions.js';
import { cardInfoKeyFrom } from '../shared/card-info.js';
import { errorAnswersPlugin } from '../shared/error-answers.js';
import { cookieSecretOf, portalFastify } from '../shared/portal-setup.js';
import { securityHeadersPlugin } from '../shared/security-headers.js';
import type { PortalContext, PortalDefects } from './context.js';
import { openPortalDatabase } from './db.js';
import { PortalError, type PortalErrorCode } from './errors.js';
import { flawSet, type PortalFlaw } from '../shared/flaws.js';
import type { HolderDirectory } from '../shared/holders.js';
import { kDefaultPortalLimits, StreamCounter, type PortalLimits } from './limits.js';
import { QrEvents } from './qr-events.js';
import { accountRoutes } from './routes/account.js';
import { applicationRoutes } from './routes/applications.js';
import { loginRoutes, type LoginRateLimit } from './routes/login.js';
import { logoutRoutes } from './routes/logout.js';
import { menuRoutes } from './routes/menu.js';
import { pageRoutes } from './routes/pages.js';
import { qrRoutes } from './routes/qr.js';
import { signingRoutes } from './routes/signing.js';
import { verifyRoutes } from './routes/verify.js';
import { registerSessions } from './session.js';
import { PortalStore } from './store.js';
import type { Verifier } from '../verification/types.js';
import { renderErrorPage } from './views/simple-pages.js';

declare module 'fastify' {
  interface FastifyInstance {
    portalContext: PortalContext;
  }
}

export const kDefaultPcAgentUrl = 'ws://127.0.0.1:24680/';

/**
 * Enough for a person retrying a few times and for a scenario suite logging in many times from one
 * address (each login is two or three requests), low enough that a script guessing is stopped.
 */
export const kDefaultLoginRateLimit: LoginRateLimit = { max: 60, timeWindowMs: 60_000 };

export interface PortalOptions {
  verifier: Verifier;
  /** The key that signs kenhojo EF 0003 (the CA directory's card-info-ap.pub.pem): KeyObject, PEM or DER SPKI. */
  cardInfoPublicKey: KeyObject | Uint8Array;
  /** The issuer's certificate-to-person register (holders.ts): who holds the certificate that signed. */
  holders: HolderDirectory;
  /** Mistakes to make on purpose, for proving that scenarios catch them (flaws.ts); none by default. */
  flaws?: readonly (PortalFlaw | string)[];
  /** SQLite file path, or ':memory:'. */
  db: string;
  /** Signs the session cookie; at least 16 characters. */
  cookieSecret: string;
  /** The PC agent's WebSocket URL, rendered into the login page. */
  pcAgentUrl?: string;
  /** The portal's URL as a phone reaches it, for QR payloads (default: the request's own origin). */
  publicUrl?: string;
  /** The clock behind every expiry (nonces, QR codes, sessions) and every shown time. */
  now?: () => Date;
  /** Error answers and the error page carry the reason (`detail`), for reports. */
  testMode?: boolean;
  /**
   * The limit on every endpoint that checks a card signature (/api/login*, /api/qr/login/*, the
   * signing app's post), one counter per client address over all of them, and separately on the
   * public /api/verify/*; false turns both off.
   */
  loginRateLimit?: LoginRateLimit | false;
  /** Caps on event streams and waiting QR sessions (kDefaultPortalLimits where absent). */
  limits?: Partial<PortalLimits>;
  /** Deliberate flaws for negative scenarios' own tests. */
  defects?: PortalDefects;
  /** fastify's logger (off by default: the harness logs through its reporters). */
  logger?: boolean;
}

/** Content-Security-Policy for every page: scripts and styles only from the portal, the agent reachable. */
function contentSecurityPolicy(pcAgentUrl: string): string {
  let agentOrigin = '';
  try {
    agentOrigin = new URL(pcAgentUrl).origin;
  } catch {
    throw new TypeError(`pcAgentUrl "${pcAgentUrl}" is not a URL`);
  }
  return [
    "default-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${agentOrigin}`,
    "script-src 'self'",
    "style-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export async function buildApp(options: PortalOptions): Promise<FastifyInstance> {
  const cookieSecret = cookieSecretOf(options.cookieSecret);
  const pcAgentUrl = options.pcAgentUrl ?? kDefaultPcAgentUrl;
  const csp = contentSecurityPolicy(pcAgentUrl);
  const cardInfoKey = cardInfoKeyFrom(options.cardInfoPublicKey);
  const flaws = flawSet(options.flaws);
  const db = openPortalDatabase(options.db);
  const limits: PortalLimits = { ...kDefaultPortalLimits, ...options.limits };
  const loginLimit = options.loginRateLimit ?? kDefaultLoginRateLimit;
  let signatureLimit: ((request: FastifyRequest, reply: FastifyReply) => Promise<void>) | undefined;
  const ctx: PortalContext = {
    store: new PortalStore(db),
    verifier: options.verifier,
    cardInfoKey: cardInfoKey.type === 'public' ? cardInfoKey : createPublicKey(cardInfoKey),
    holders: options.holders,
    flaws,
    now: options.now ?? (() => new Date()),
    pcAgentUrl,
    publicUrl: options.publicUrl,
    testMode: options.testMode ?? false,
    secureCookies: options.publicUrl?.startsWith('https:') ?? false,
    qrEvents: new QrEvents(),
    sessionKey: createHmac('sha256', cookieSecret).update('portal session key').digest(),
    limits,
    defects: options.defects ?? {},
    streams: new StreamCounter(limits),
    limitSignatureChecks: async (request, reply) => {
      if (signatureLimit) await signatureLimit(request, reply);
    },
  };
  const limitedError = (what: string) => (_request: FastifyRequest, context: { max: number; after: string }) =>
    new PortalError('RATE_LIMITED', `more than ${context.max} ${what} in ${context.after}`);

  const app = portalFastify(options.logger, db);
  // For tests and the runner, which need to see what the portal holds (e.g. whether a page is
  // listening to a QR session) without reaching into a plugin.
  app.decorate('portalContext', ctx);
  await app.register(errorAnswersPlugin<PortalErrorCode>, {
    errorClass: PortalError,
    codes: { byStatus: { 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 429: 'RATE_LIMITED' } },
    withDetail: ctx.testMode,
    page: (error, detail) => renderErrorPage(error.code, detail),
  });
  await app.register(securityHeadersPlugin, { contentSecurityPolicy: csp });
  await app.register(browserInputPlugin, { cookieSecret });
  await app.register(browserScripts, { sourceDir: 'harness/portal/mynaportal/browser' });

  // The browser-facing areas share sessions and CSRF protection, in one scope of their own...
  await app.register(async (browser) => {
    await browser.register(browserSessionsPlugin, { sessions: { register: (scope) => registerSessions(scope, ctx) } });
    if (loginLimit) {
      // One store for the whole scope, so every route that hooks `browser.rateLimit()` shares the
      // same counter per address: the QR login cannot be used to get round the PC login's limit.
      await browser.register(rateLimit, {
        global: false,
        max: loginLimit.max,
        timeWindow: loginLimit.timeWindowMs,
        errorResponseBuilder: limitedError('requests that check a card signature'),
      });
      const limiter = browser.rateLimit();
      signatureLimit = async (request, reply) => {
        await limiter.call(browser, request, reply);
      };
    }
    await browser.register(pageRoutes, { ctx });
    await browser.register(loginRoutes, { ctx });
    await browser.register(accountRoutes, { ctx });
    await browser.register(menuRoutes, { ctx });
    await browser.register(logoutRoutes, { ctx });
    await browser.register(qrRoutes, { ctx });
    await browser.register(applicationRoutes, { ctx });
    await browser.register(signingRoutes, { ctx });
  });
  // ...and the public verification API, called by services rather than browsers, stays outside it.
  await app.register(async (api) => {
    if (loginLimit) {
      await api.register(rateLimit, { global: true, max: loginLimit.max, timeWindow: loginLimit.timeWindowMs, errorResponseBuilder: limitedError('verification requests') });
    }
    await api.register(verifyRoutes, { verifier: options.verifier, withDetail: ctx.testMode });
  });

  await app.ready();
  return app;
}
