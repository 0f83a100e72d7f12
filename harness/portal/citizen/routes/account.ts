/** The top page, ログイン/新規登録 (e-mail and password), マイページ and logout. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { CitizenContext } from '../context.js';
import { CitizenError } from '../errors.js';
import { renderHome, renderLogin, renderMyPage } from '../views.js';

function html(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

export async function accountRoutes(app: FastifyInstance, { ctx }: { ctx: CitizenContext }): Promise<void> {
  app.get('/', async (request, reply) => {
    const accountId = request.citizenSession?.accountId;
    return html(reply, renderHome(accountId ? ctx.store.account(accountId) : undefined));
  });

  app.get('/login', async (request, reply) => html(reply, renderLogin({ csrfToken: ctx.sessions.ensure(request, reply).csrfToken })));
  app.post('/login', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email.trim() : '';
    const refuse = (error: CitizenError): FastifyReply =>
      html(reply, renderLogin({ csrfToken: ctx.sessions.ensure(request, reply).csrfToken, error: error.userMessage, errorCode: error.code }), error.status);
    let account;
    try {
      const password = typeof body.password === 'string' ? body.password : undefined;
      account = await ctx.logins.attempt(email, request.ip, async () => (password === undefined ? undefined : ctx.store.login(email, password)), () => new CitizenError('LOGIN_FAILED'));
    } catch (e) {
      if (e instanceof CitizenError) return refuse(e);
      throw e;
    }
    ctx.sessions.renew(request, reply).accountId = account.id;
    return reply.redirect('/mypage', 303);
  });

  app.get('/mypage', async (request, reply) => {
    const session = request.citizenSession;
    const account = session?.accountId ? ctx.store.account(session.accountId) : undefined;
    if (!session || !account) return reply.redirect('/login', 303);
    const flash = session.flash;
    session.flash = undefined;
    return html(reply, renderMyPage({ csrfToken: session.csrfToken }, account, ctx.store.profile(account.id), flash));
  });

  app.post('/logout', async (request, reply) => {
    ctx.sessions.end(request, reply);
    return reply.redirect('/', 303);
  });
}
