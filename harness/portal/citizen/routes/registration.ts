/**
 * New registration, in the guide's order: 利用規約 (同意する) → phone number and its 6-digit SMS code
 * → e-mail address, password and nickname and the 6-digit e-mail code → 登録内容の確認 → the account,
 * logged in, on マイページ with 「アカウント作成完了」. Each step is refused unless the one before it
 * was completed in this session.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkCode, newCode, type CodeChannel } from '../codes.js';
import type { CitizenContext } from '../context.js';
import { CitizenError } from '../errors.js';
import type { CitizenSession, Registration } from '../sessions.js';
import { hashPassword } from '../store.js';
import { renderConfirm, renderEmail, renderEmailCode, renderPhone, renderPhoneCode, renderTerms, type FormState } from '../views.js';

const kPhone = /^0[789]0[0-9]{8}$/;
const kEmail = /^[^\s@<>"']{1,64}@[A-Za-z0-9.-]{1,255}\.[A-Za-z]{2,}$/;

type Form = Record<string, unknown>;

function text(body: unknown, name: string): string {
  const value = (body as Form | undefined)?.[name];
  return typeof value === 'string' ? value.trim() : '';
}

function html(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

function formState(session: CitizenSession, error?: CitizenError): FormState {
  return { csrfToken: session.csrfToken, error: error?.userMessage, errorCode: error?.code };
}

/** The registration of the session, which must have reached `step`. */
function registrationAt(session: CitizenSession, step: 'phone' | 'phone-code' | 'email' | 'email-code' | 'confirm'): Registration {
  const r = session.registration;
  const reached =
    r !== undefined &&
    r.agreed &&
    (step === 'phone' ||
      (step === 'phone-code' && r.phone !== undefined && r.phoneCode !== undefined) ||
      (r.phoneVerified &&
        (step === 'email' ||
          (step === 'email-code' && r.email !== undefined && r.emailCode !== undefined) ||
          (step === 'confirm' && r.emailVerified && r.email !== undefined && r.passwordHash !== undefined && r.nickname !== undefined))));
  if (!reached) throw new CitizenError('STEP_OUT_OF_ORDER', `the registration has not reached the ${step} step`);
  return r!;
}

export async function registrationRoutes(app: FastifyInstance, { ctx }: { ctx: CitizenContext }): Promise<void> {
  const session = (request: FastifyRequest, reply: FastifyReply): CitizenSession => ctx.sessions.ensure(request, reply);
  /** Sends a new code to `to` from session `s`, within the send limits (ctx.codes). */
  const send = (s: CitizenSession, channel: CodeChannel, to: string): ReturnType<typeof newCode> => {
    ctx.codes.send(`${channel}:${to}`, s.id);
    const code = newCode(ctx.now());
    ctx.outbox.send(channel, to, code.code, ctx.now());
    return code;
  };
  /** Runs a form step; a refusal of the form's own re-renders it with the message. */
  const step = async (reply: FastifyReply, s: CitizenSession, work: () => FastifyReply | Promise<FastifyReply>, rerender: (error: CitizenError) => string): Promise<FastifyReply> => {
    try {
      return await work();
    } catch (e) {
      if (!(e instanceof CitizenError) || e.code === 'STEP_OUT_OF_ORDER') throw e;
      return html(reply, rerender(e), e.status);
    }
  };

  app.get('/register/terms', async (request, reply) => html(reply, renderTerms(formState(session(request, reply)))));
  app.post('/register/terms', async (request, reply) => {
    const s = session(request, reply);
    s.registration = { agreed: true, phoneVerified: false, emailVerified: false };
    return reply.redirect('/register/phone', 303);
  });

  app.get('/register/phone', async (request, reply) => {
    const s = session(request, reply);
    registrationAt(s, 'phone');
    return html(reply, renderPhone(formState(s)));
  });
  app.post('/register/phone', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'phone');
    const phone = text(request.body, 'phone').replace(/[-\s]/g, '');
    return step(
      reply,
      s,
      () => {
        if (!kPhone.test(phone)) throw new CitizenError('PHONE_INVALID', 'not a mobile number');
        Object.assign(r, { phone, phoneCode: send(s, 'sms', phone), phoneVerified: false, email: undefined, emailCode: undefined, emailVerified: false });
        return reply.redirect('/register/phone/code', 303);
      },
      (e) => renderPhone(formState(s, e), phone),
    );
  });
  app.get('/register/phone/code', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'phone-code');
    return html(reply, renderPhoneCode(formState(s), r.phone!));
  });
  app.post('/register/phone/code', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'phone-code');
    return step(
      reply,
      s,
      () => {
        checkCode(ctx.codes, `sms:${r.phone!}`, r.phoneCode, text(request.body, 'code'));
        r.phoneVerified = true;
        r.phoneCode = undefined;
        return reply.redirect('/register/email', 303);
      },
      (e) => renderPhoneCode(formState(s, e), r.phone!),
    );
  });
  app.post('/register/phone/resend', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'phone-code');
    return step(
      reply,
      s,
      () => {
        r.phoneCode = send(s, 'sms', r.phone!);
        return reply.redirect('/register/phone/code', 303);
      },
      (e) => renderPhoneCode(formState(s, e), r.phone!),
    );
  });

  app.get('/register/email', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'email');
    return html(reply, renderEmail(formState(s), { email: r.email, nickname: r.nickname }));
  });
  app.post('/register/email', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'email');
    const email = text(request.body, 'email');
    const nickname = text(request.body, 'nickname');
    const password = (request.body as Form | undefined)?.password;
    return step(
      reply,
      s,
      async () => {
        if (!kEmail.test(email) || email.length > 254) throw new CitizenError('EMAIL_INVALID');
        if (typeof password !== 'string' || password.length < 8 || password.length > 128 || !/[A-Za-z]/.test(password) || !/[0-9]/.test(password)) throw new CitizenError('PASSWORD_WEAK');
        if ([...nickname].length < 1 || [...nickname].length > 20) throw new CitizenError('NICKNAME_INVALID');
        if (ctx.store.emailTaken(email)) throw new CitizenError('EMAIL_TAKEN');
        Object.assign(r, { email, nickname, passwordHash: await hashPassword(password), emailCode: send(s, 'email', email), emailVerified: false });
        return reply.redirect('/register/email/code', 303);
      },
      (e) => renderEmail(formState(s, e), { email, nickname }),
    );
  });
  app.get('/register/email/code', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'email-code');
    return html(reply, renderEmailCode(formState(s), r.email!));
  });
  app.post('/register/email/code', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'email-code');
    return step(
      reply,
      s,
      () => {
        checkCode(ctx.codes, `email:${r.email!}`, r.emailCode, text(request.body, 'code'));
        r.emailVerified = true;
        r.emailCode = undefined;
        return reply.redirect('/register/confirm', 303);
      },
      (e) => renderEmailCode(formState(s, e), r.email!),
    );
  });
  app.post('/register/email/resend', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'email-code');
    return step(
      reply,
      s,
      () => {
        r.emailCode = send(s, 'email', r.email!);
        return reply.redirect('/register/email/code', 303);
      },
      (e) => renderEmailCode(formState(s, e), r.email!),
    );
  });

  app.get('/register/confirm', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'confirm');
    return html(reply, renderConfirm(formState(s), { phone: r.phone!, email: r.email!, nickname: r.nickname! }));
  });
  app.post('/register/confirm', async (request, reply) => {
    const s = session(request, reply);
    const r = registrationAt(s, 'confirm');
    return step(
      reply,
      s,
      () => {
        if (ctx.store.emailTaken(r.email!)) throw new CitizenError('EMAIL_TAKEN');
        const account = ctx.store.createAccount({ phone: r.phone!, email: r.email!, passwordHash: r.passwordHash!, nickname: r.nickname! }, ctx.now());
        const fresh = ctx.sessions.renew(request, reply);
        fresh.accountId = account.id;
        fresh.flash = 'アカウント作成完了';
        return reply.redirect('/mypage', 303);
      },
      (e) => renderConfirm(formState(s, e), { phone: r.phone!, email: r.email!, nickname: r.nickname! }),
    );
  });
}
