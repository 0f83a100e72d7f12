/**
 * The city portal (Nobeoka-like, with PocketSign / Digital Auth App linking) as an app factory:
 * `buildCitizenApp(options)` returns a ready fastify instance and never listens (server.ts does).
 * One plugin per route area: account pages, registration, linking, and the test API (test mode only).
 * It knows the IdP only as an OpenID Connect provider over HTTP.
 */
import type { FastifyInstance } from 'fastify';
import { LoginThrottle } from '../shared/login-throttle.js';
import { buildSmallPortalApp, smallPortalBasics, type SmallPortalOptions } from '../shared/app.js';
import { citizenCodeGuard, Outbox } from './codes.js';
import type { CitizenContext } from './context.js';
import { openCitizenDatabase } from './db.js';
import { CitizenError } from './errors.js';
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

export interface CitizenOptions extends SmallPortalOptions {
  /** The IdP and this portal's registration with it. */
  idp: OidcClientOptions;
  /** Deliberate client misbehaviour for negative scenarios. */
  faults?: OidcClientFaults;
}

/** No scripts at all; forms post to the portal, whose 「連携する」 redirects on to the IdP. */
function contentSecurityPolicy(idpOrigin: string): string {
  return `default-src 'self'; img-src 'self' data:; script-src 'none'; style-src 'self'; form-action 'self' ${idpOrigin}; frame-ancestors 'none'; base-uri 'none'`;
}

export async function buildCitizenApp(options: CitizenOptions): Promise<FastifyInstance> {
  const basics = smallPortalBasics(options);
  const db = openCitizenDatabase(options.db ?? ':memory:');
  const ctx: CitizenContext = {
    store: new CitizenStore(db),
    sessions: new CitizenSessions(basics.now, basics.secure),
    outbox: new Outbox(),
    codes: citizenCodeGuard(basics.now, basics.defects.unlimitedCodes),
    logins: new LoginThrottle(basics.now, CitizenError, basics.defects.unlimitedPasswordTries ? false : undefined),
    oidc: new OidcClient(options.idp, options.faults, basics.now),
    publicUrl: basics.publicUrl,
    now: basics.now,
    testMode: basics.testMode,
  };
  return buildSmallPortalApp({
    fastify: { logger: options.logger ?? false },
    contextProperty: 'citizenContext',
    context: ctx,
    cookieSecret: basics.cookieSecret,
    testMode: ctx.testMode,
    db,
    errorClass: CitizenError,
    renderError,
    contentSecurityPolicy: () => contentSecurityPolicy(new URL(ctx.oidc.issuer).origin),
    sessions: ctx.sessions,
    pages: async (browser) => {
      await browser.register(accountRoutes, { ctx });
      await browser.register(registrationRoutes, { ctx });
      await browser.register(linkRoutes, { ctx });
    },
    testApi: async (app) => {
      await app.register(testApiRoutes, { ctx });
    },
  });
}
