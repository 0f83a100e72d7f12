/**
 * The top page, ログイン/新規登録, account creation in the guide's order (作成するアカウントを選択する →
 * e-mail and password with a 6-digit confirmation code → プロフィール情報を入力する → マイページ with
 * 「アカウント作成完了」), マイページ itself and logout.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newCode } from '../codes.js';
import { formText, loggedIn, sendHtml, type MyPageContext } from '../context.js';
import { MyPageError } from '../errors.js';
import type { MyPageSession, Signup } from '../sessions.js';
import { hashPassword } from '../store.js';
import { renderAccountType, renderCodeForm, renderEmailForm, renderHome, renderLogin, renderMyPage, renderProfileForm, type FormState } from '../views.js';

const kEmail = /^[^\s@<>"']{1,64}@[A-Za-z0-9.-]{1,255}\.[A-Za-z]{2,}$/;

function formState(session: MyPageSession, error?: MyPageError): FormState {
  return { csrfToken: session.csrfToken, error: error?.userMessage, errorCode: error?.code };
}

function signupAt(session: MyPageSession, step: 'email' | 'code' | 'profile'): Signup {
  const s = session.signup;
  const reached = s !== undefined && (step === 'email' || (step === 'code' && s.code !== undefined && s.email !== undefined) || (step === 'profile' && s.emailVerified && s.passwordHash !== undefined));
  if (!reached) throw new MyPageError('STEP_OUT_OF_ORDER', `the account creation has not reached the ${step} step`);
  return s!;
}

export async function accountRoutes(app: FastifyInstance, { ctx }: { ctx: MyPageContext }): Promise<void> {
  const session = (request: FastifyRequest, reply: FastifyReply): MyPageSession => ctx.sessions.ensure(request, reply);
  /** Runs a form step; a refusal of the form's own re-renders it with the message. */
  const step = async (reply: FastifyReply, work: () => FastifyReply | Promise<FastifyReply>, rerender: (error: MyPageError) => string): Promise<FastifyReply> => {
    try {
      return await work();
    } catch (e) {
      if (!(e instanceof MyPageError) || e.code === 'STEP_OUT_OF_ORDER') throw e;
      return sendHtml(reply, rerender(e), e.status);
    }
  };

  app.get('/', async (request, reply) => {
    const accountId = request.myPageSession?.accountId;
    return sendHtml(reply, renderHome(accountId ? ctx.store.account(accountId) : undefined));
  });

  app.get('/login', async (request, reply) => sendHtml(reply, renderLogin(formState(session(request, reply)))));
  app.post('/login', async (request, reply) => {
    const email = formText(request.body, 'email');
    const refuse = (error: MyPageError): FastifyReply => sendHtml(reply, renderLogin(formState(session(request, reply), error)), error.status);
    let account;
    try {
      account = await ctx.logins.attempt(email, request.ip, () => ctx.store.login(email, formText(request.body, 'password')), () => new MyPageError('LOGIN_FAILED'));
    } catch (e) {
      if (e instanceof MyPageError) return refuse(e);
      throw e;
    }
    ctx.sessions.renew(request, reply).accountId = account.id;
    return reply.redirect('/mypage', 303);
  });

  app.get('/signup', async (request, reply) => sendHtml(reply, renderAccountType(formState(session(request, reply)))));
  app.post('/signup', async (request, reply) => {
    const s = session(request, reply);
    return step(
      reply,
      () => {
        if (formText(request.body, 'type') !== 'email') throw new MyPageError('ACCOUNT_TYPE_UNSUPPORTED', `account type ${formText(request.body, 'type')}`);
        s.signup = { emailVerified: false };
        return reply.redirect('/signup/email', 303);
      },
      (e) => renderAccountType(formState(s, e)),
    );
  });

  app.get('/signup/email', async (request, reply) => {
    const s = session(request, reply);
    return sendHtml(reply, renderEmailForm(formState(s), signupAt(s, 'email').email));
  });
  app.post('/signup/email', async (request, reply) => {
    const s = session(request, reply);
    const signup = signupAt(s, 'email');
    const email = formText(request.body, 'email');
    const password = (request.body as Record<string, unknown> | undefined)?.password;
    return step(
      reply,
      async () => {
        if (!kEmail.test(email) || email.length > 254) throw new MyPageError('EMAIL_INVALID');
        if (typeof password !== 'string' || password.length < 8 || password.length > 128 || !/[A-Za-z]/.test(password) || !/[0-9]/.test(password)) throw new MyPageError('PASSWORD_WEAK');
        if (ctx.store.emailTaken(email)) throw new MyPageError('EMAIL_TAKEN');
        ctx.codes.send(email, s.id);
        const code = newCode(ctx.now());
        ctx.outbox.send(email, code.code, ctx.now());
        Object.assign(signup, { email, passwordHash: await hashPassword(password), code, emailVerified: false });
        return reply.redirect('/signup/code', 303);
      },
      (e) => renderEmailForm(formState(s, e), email),
    );
  });

  app.get('/signup/code', async (request, reply) => {
    const s = session(request, reply);
    return sendHtml(reply, renderCodeForm(formState(s), signupAt(s, 'code').email!));
  });
  app.post('/signup/code', async (request, reply) => {
    const s = session(request, reply);
    const signup = signupAt(s, 'code');
    return step(
      reply,
      () => {
        ctx.codes.check(signup.email!, signup.code!, formText(request.body, 'code'));
        signup.emailVerified = true;
        signup.code = undefined;
        return reply.redirect('/signup/profile', 303);
      },
      (e) => renderCodeForm(formState(s, e), signup.email!),
    );
  });
  app.post('/signup/code/resend', async (request, reply) => {
    const s = session(request, reply);
    const signup = signupAt(s, 'code');
    return step(
      reply,
      () => {
        ctx.codes.send(signup.email!, s.id);
        signup.code = newCode(ctx.now());
        ctx.outbox.send(signup.email!, signup.code.code, ctx.now());
        return reply.redirect('/signup/code', 303);
      },
      (e) => renderCodeForm(formState(s, e), signup.email!),
    );
  });

  app.get('/signup/profile', async (request, reply) => {
    const s = session(request, reply);
    signupAt(s, 'profile');
    return sendHtml(reply, renderProfileForm(formState(s)));
  });
  app.post('/signup/profile', async (request, reply) => {
    const s = session(request, reply);
    const signup = signupAt(s, 'profile');
    const nickname = formText(request.body, 'nickname');
    return step(
      reply,
      () => {
        if ([...nickname].length < 1 || [...nickname].length > 20) throw new MyPageError('NICKNAME_INVALID');
        if (ctx.store.emailTaken(signup.email!)) throw new MyPageError('EMAIL_TAKEN');
        const account = ctx.store.createAccount({ email: signup.email!, passwordHash: signup.passwordHash!, nickname }, ctx.now());
        const fresh = ctx.sessions.renew(request, reply);
        fresh.accountId = account.id;
        fresh.flash = 'アカウント作成完了';
        return reply.redirect('/mypage', 303);
      },
      (e) => renderProfileForm(formState(s, e), nickname),
    );
  });

  app.get('/mypage', async (request, reply) => {
    const s = request.myPageSession;
    const account = s?.accountId ? ctx.store.account(s.accountId) : undefined;
    if (!s || !account) return reply.redirect('/login', 303);
    const flash = s.flash;
    s.flash = undefined;
    return sendHtml(
      reply,
      renderMyPage(formState(s), { account, link: ctx.store.cardLink(account.id), postBoxEnabled: ctx.store.postBoxEnabledAt(account.id) !== undefined, applications: ctx.applications, flash }),
    );
  });

  app.post('/logout', async (request, reply) => {
    loggedIn(request);
    ctx.sessions.end(request, reply);
    return reply.redirect('/', 303);
  });
}
