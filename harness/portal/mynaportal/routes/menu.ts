/**
 * メインメニュー: GET /menu, for a logged-in session only. 前回のログイン is the login before
 * this one; on the very first login there is none, and the guide's screen right after registration
 * shows the current one, so we do too.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PortalPluginOptions } from '../context.js';
import { PortalError } from '../errors.js';
import { formatJstDate, formatJstDateTime } from '../../../../common/jst.js';
import { renderMenuPage } from '../views/menu-page.js';

export const menuRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  app.get('/menu', async (request, reply) => {
    const session = request.portalSession;
    if (!session?.personId || !session.loggedInAt) throw new PortalError('NOT_LOGGED_IN', 'the main menu needs a logged-in session');
    const account = ctx.store.people.getAccount(session.personId);
    if (!account) throw new PortalError('NOT_LOGGED_IN', 'the session names a person without an account');
    const certificate = session.certIssuer && session.certSerial ? ctx.store.people.findCertificate(session.certIssuer, session.certSerial) : undefined;
    const notAfter = certificate ? new Date(certificate.notAfter) : undefined;
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(
        renderMenuPage({
          nickname: account.nickname,
          previousLogin: formatJstDateTime(new Date(session.previousLoginAt ?? session.loggedInAt)),
          certificateExpiry: notAfter && !Number.isNaN(notAfter.getTime()) ? formatJstDate(notAfter) : '不明',
          logoutCsrfToken: session.csrfToken,
        }),
      );
  });
};
