/**
 * The pages outside any flow and the static files:
 *
 *   GET /              トップ (T-01): ログイン, or メインメニュー when logged in
 *   GET /login         ログイン (L-01): IC card reader or smartphone
 *   GET /logged-out    ログアウト完了 (L-02)
 *   GET /m/qr-login    what a phone browser shows for the QR URL outside the app (M-01)
 *   GET /static/portal.css (the page scripts are served by shared/browser-scripts.ts)
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PortalPluginOptions } from '../context.js';
import { ensureSession } from '../session.js';
import { renderLoginPage } from '../views/login-page.js';
import { kPortalCss } from '../views/portal-css.js';
import { renderLoggedOutPage, renderQrLandingPage, renderTopPage } from '../views/simple-pages.js';

const kHtml = 'text/html; charset=utf-8';

export const pageRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  app.get('/', async (request, reply) => {
    const session = request.portalSession;
    const loggedIn = Boolean(session?.personId);
    return reply.type(kHtml).send(renderTopPage({ loggedIn, logoutCsrfToken: session?.csrfToken }));
  });

  app.get('/login', async (request, reply) => {
    // The session starts here: the page needs a CSRF token for its API calls.
    const session = ensureSession(ctx, request, reply);
    return reply.type(kHtml).header('cache-control', 'no-store').send(renderLoginPage({ csrfToken: session.csrfToken, pcAgentUrl: ctx.pcAgentUrl }));
  });

  app.get('/logged-out', async (_request, reply) => reply.type(kHtml).send(renderLoggedOutPage()));

  app.get('/m/qr-login', async (_request, reply) => reply.type(kHtml).send(renderQrLandingPage()));

  app.get('/static/portal.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(kPortalCss));
};
