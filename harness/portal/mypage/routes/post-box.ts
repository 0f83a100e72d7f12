/** デジタル郵便受け（POST）: only a linked account can switch it on, after 「同意する」 and 「設定する」. */
import type { FastifyInstance } from 'fastify';
import { formText, loggedIn, sendHtml, type MyPageContext } from '../context.js';
import { MyPageError } from '../errors.js';
import { renderPostBoxDone, renderPostBoxForm } from '../views.js';

export async function postBoxRoutes(app: FastifyInstance, { ctx }: { ctx: MyPageContext }): Promise<void> {
  const linkedSession = (request: Parameters<typeof loggedIn>[0]): ReturnType<typeof loggedIn> => {
    const session = loggedIn(request);
    if (!ctx.store.cardLink(session.accountId)) throw new MyPageError('LINK_REQUIRED', 'the post box needs a linked card');
    return session;
  };

  app.get('/mypage/post', async (request, reply) => sendHtml(reply, renderPostBoxForm({ csrfToken: linkedSession(request).csrfToken })));
  app.post('/mypage/post', async (request, reply) => {
    const session = linkedSession(request);
    if (formText(request.body, 'agree') !== 'yes') {
      const error = new MyPageError('AGREEMENT_REQUIRED');
      return sendHtml(reply, renderPostBoxForm({ csrfToken: session.csrfToken, error: error.userMessage, errorCode: error.code }), error.status);
    }
    ctx.store.enablePostBox(session.accountId, ctx.now());
    return sendHtml(reply, renderPostBoxDone());
  });
}
