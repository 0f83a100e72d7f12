/**
 * The city portal (Nobeoka-like, with PocketSign / Digital Auth App linking) as an app factory:
 * `buildCitizenApp(options)` returns a ready fastify instance and never listens (server.ts does).
 * One plugin per route area: account pages, registration, linking, and the test API (test mode only).
 * It knows the IdP only as an OpenID Connect provider over HTTP.
 */
import type { FastifyInstance } from 'fastify';
import { browserInputPlugin } from '../shared/browser-input.js';
import { browserSessionsPlugin } from '../shared/browser-sessions.js';
import { errorAnswersPlugin } from '../shared/error-answers.js';
import { cookieSecretOf, portalFastify, publicUrlOf } from '../shared/portal-setup.js';
import { securityHeadersPlugin } from '../shared/security-headers.js';
import { accountGuards, type SmallPortalOptions } from '../shared/small-portal-options.js';
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
  const cookieSecret = cookieSecretOf(options.cookieSecret);
  const publicUrl = publicUrlOf(options.publicUrl);
  const now = options.now ?? (() => new Date());
  const db = openCitizenDatabase(options.db ?? ':memory:');
  const ctx: CitizenContext = {
    store: new CitizenStore(db),
    sessions: new CitizenSessions(now, () => publicUrl().startsWith('https:')),
    outbox: new Outbox(),
    ...accountGuards(now, CitizenError, options.defects),
    oidc: new OidcClient(options.idp, options.faults, now),
    publicUrl,
    now,
    testMode: options.testMode ?? false,
  };
  const app = portalFastify(options.logger, db);
  app.decorate('citizenContext', ctx);
  await app.register(errorAnswersPlugin<CitizenErrorCode>, { errorClass: CitizenError, withDetail: ctx.testMode, page: renderError });
  await app.register(securityHeadersPlugin, { contentSecurityPolicy: () => contentSecurityPolicy(new URL(ctx.oidc.issuer).origin) });
  await app.register(browserInputPlugin, { cookieSecret });
  await app.register(async (browser) => {
    await browser.register(browserSessionsPlugin, { sessions: ctx.sessions });
    await browser.register(accountRoutes, { ctx });
    await browser.register(registrationRoutes, { ctx });
    await browser.register(linkRoutes, { ctx });
  });
  if (ctx.testMode) await app.register(testApiRoutes, { ctx });
  await app.ready();
  return app;
}
