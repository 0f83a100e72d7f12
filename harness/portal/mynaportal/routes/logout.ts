/**
 * POST /logout: ends the browser session (the ログアウト button of every logged-in page) and shows
 * ログアウト完了. A form post with the session's CSRF token, so no other site can log anyone out.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PortalPluginOptions } from '../context.js';
import { endSession } from '../session.js';

export const logoutRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  app.post(
    '/logout',
    { schema: { body: Type.Optional(Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false })) } },
    async (request, reply) => {
      endSession(ctx, request, reply);
      return reply.redirect('/logged-out', 303);
    },
  );
};
