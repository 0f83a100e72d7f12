/**
 * My Page (Sendai-like, with card linking through an xID-like app) as an app factory:
 * `buildMyPageApp(options)` returns a ready fastify instance and never listens (server.ts does).
 * One plugin per route area: accounts, card linking (browser pages and the phone app's API), the
 * digital post box, and the test API (test mode only). Like the other portals it trusts the test CA
 * through its certificates, CRLs and card-info key only.
 */
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { cardInfoKeyFrom } from '../shared/card-info.js';
import { flawSet, type PortalFlaw } from '../shared/flaws.js';
import type { HolderDirectory } from '../shared/holders.js';
import { browserInputPlugin } from '../shared/browser-input.js';
import { browserSessionsPlugin } from '../shared/browser-sessions.js';
import { errorAnswersPlugin } from '../shared/error-answers.js';
import { cookieSecretOf, portalFastify, publicUrlOf } from '../shared/portal-setup.js';
import { securityHeadersPlugin } from '../shared/security-headers.js';
import { kDefaultSignatureApiLimit, registerLimitedApi } from '../shared/signature-api-limit.js';
import { accountGuards, type SmallPortalOptions } from '../shared/small-portal-options.js';
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

export interface MyPageOptions extends SmallPortalOptions {
  verifier: Verifier;
  /** The card-info AP's public key (KeyObject, PEM or DER SPKI). */
  cardInfoPublicKey: KeyObject | Uint8Array;
  /** The issuer's certificate-to-person register (../holders.ts). */
  holders: HolderDirectory;
  /** Mistakes to make on purpose (../flaws.ts): `trust-client-card-info`. */
  flaws?: readonly (PortalFlaw | string)[];
  /** The per-address limit of the xID app's API, which checks card signatures; false turns it off. */
  appRateLimit?: { max: number; timeWindowMs: number } | false;
  /** The online applications listed on My Page; a small fixed catalogue by default. */
  applications?: readonly OnlineApplication[];
}

const kCsp = "default-src 'self'; img-src 'self' data:; script-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export async function buildMyPageApp(options: MyPageOptions): Promise<FastifyInstance> {
  const cookieSecret = cookieSecretOf(options.cookieSecret);
  const publicUrl = publicUrlOf(options.publicUrl);
  const now = options.now ?? (() => new Date());
  const db = openMyPageDatabase(options.db ?? ':memory:');
  const ctx: MyPageContext = {
    store: new MyPageStore(db),
    sessions: new MyPageSessions(now, () => publicUrl().startsWith('https:')),
    outbox: new Outbox(),
    ...accountGuards(now, MyPageError, options.defects),
    transactions: new LinkTransactions(now),
    verifier: options.verifier,
    cardInfoKey: cardInfoKeyFrom(options.cardInfoPublicKey),
    holders: options.holders,
    flaws: flawSet(options.flaws),
    applications: options.applications ?? kOnlineApplications,
    publicUrl,
    now,
    testMode: options.testMode ?? false,
  };
  const app = portalFastify(options.logger, db);
  app.decorate('myPageContext', ctx);
  await app.register(errorAnswersPlugin<MyPageErrorCode>, { errorClass: MyPageError, withDetail: ctx.testMode, page: renderError });
  await app.register(securityHeadersPlugin, { contentSecurityPolicy: kCsp });
  await app.register(browserInputPlugin, { cookieSecret });
  await app.register(async (browser) => {
    await browser.register(browserSessionsPlugin, { sessions: ctx.sessions });
    await browser.register(accountRoutes, { ctx });
    await browser.register(postBoxRoutes, { ctx });
    await browser.register(linkPageRoutes, { ctx });
  });
  await registerLimitedApi(app, options.appRateLimit ?? kDefaultSignatureApiLimit, (message) => new MyPageError('RATE_LIMITED', message), async (api) => {
    await api.register(xidApiRoutes, { ctx });
  });
  if (ctx.testMode) await app.register(testApiRoutes, { ctx });
  await app.ready();
  return app;
}
