/**
 * Account registration after the first login of an unknown person (アカウント情報登録):
 *
 *   GET  /account/new       入力 (B-01), empty or with the kept draft (the 修正 button comes here)
 *   POST /account/confirm   B-01 posted: its errors next to the fields, or 確認 (B-02)
 *   POST /account/register  B-02's 完了: person, account and certificate created → 完了 (B-03)
 *   POST /account/cancel    キャンセル on B-01 or B-02: the login is dropped → トップ
 *
 * The draft lives in the session (not in hidden fields), so B-02 registers exactly what was
 * validated and 修正 finds the values again.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { defaultFormValues, formValuesFromBody, formValuesFromDraft, kNotificationFlags, validateAccountForm } from '../account-form.js';
import type { PortalContext, PortalPluginOptions } from '../context.js';
import { PortalError } from '../errors.js';
import type { PendingLogin, SessionRow } from '../store/logins.js';
import { requireSession, rotateSession } from '../session.js';
import { renderAccountConfirmPage, renderAccountDonePage, renderAccountInputPage } from '../views/account-pages.js';

const kHtml = 'text/html; charset=utf-8';

type Registration = Extract<PendingLogin, { stage: 'register' }>;

const kText = Type.Optional(Type.String({ maxLength: 512 }));
const kTick = Type.Optional(Type.String({ maxLength: 8 }));

const kAccountFormBody = Type.Object(
  {
    _csrf: Type.Optional(Type.String({ maxLength: 128 })),
    nickname: kText,
    email1: kText,
    email1_confirm: kText,
    email2: kText,
    email2_confirm: kText,
    language_ja: kTick,
    language_en: kTick,
    ...Object.fromEntries(kNotificationFlags.map((f) => [f.field, kTick])),
  },
  { additionalProperties: false },
);

const kCsrfOnlyBody = Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false });

/** The registration in progress, or a redirect (already registered) / LOGIN_PENDING_EXPIRED. */
function registration(ctx: PortalContext, session: SessionRow | null): Registration | 'logged-in' {
  const pending = session?.pending;
  if (pending?.stage === 'register') {
    if (Date.parse(pending.expiresAt) > ctx.now().getTime()) return pending;
    throw new PortalError('LOGIN_PENDING_EXPIRED', `the registration started before ${pending.expiresAt} timed out`);
  }
  if (session?.personId) return 'logged-in';
  throw new PortalError('LOGIN_PENDING_EXPIRED', 'no registration is in progress in this session: log in with the card first');
}

function toMenu(reply: FastifyReply): FastifyReply {
  return reply.redirect('/menu', 303);
}

export const accountRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  app.get('/account/new', async (request, reply) => {
    const pending = registration(ctx, request.portalSession);
    if (pending === 'logged-in') return toMenu(reply);
    const values = pending.draft ? formValuesFromDraft(pending.draft) : defaultFormValues();
    return reply.type(kHtml).header('cache-control', 'no-store').send(renderAccountInputPage({ csrfToken: request.portalSession!.csrfToken, values, errors: {} }));
  });

  app.post('/account/confirm', { schema: { body: kAccountFormBody } }, async (request, reply) => {
    const session = requireSession(request);
    const pending = registration(ctx, session);
    if (pending === 'logged-in') return toMenu(reply);
    const values = formValuesFromBody(request.body as Record<string, string | undefined>);
    const result = validateAccountForm(values);
    if (!result.ok) {
      return reply.code(400).type(kHtml).send(renderAccountInputPage({ csrfToken: session.csrfToken, values, errors: result.errors }));
    }
    ctx.store.logins.setPending(session.id, { ...pending, draft: result.draft });
    return reply.type(kHtml).header('cache-control', 'no-store').send(renderAccountConfirmPage({ csrfToken: session.csrfToken, draft: result.draft }));
  });

  app.post('/account/register', { schema: { body: kCsrfOnlyBody } }, async (request: FastifyRequest, reply) => {
    const session = requireSession(request);
    const pending = registration(ctx, session);
    if (pending === 'logged-in') return toMenu(reply);
    // 完了 without a confirmed draft (a stale B-02 after キャンセル, a crafted post): back to the form.
    if (!pending.draft) return reply.redirect('/account/new', 303);
    const now = ctx.now();
    // The issuer's person id decides; only the trust-client-card-info flaw leaves it out (flaws.ts).
    const existing = pending.holder !== undefined ? ctx.store.people.findPersonByHolder(pending.holder) : ctx.store.people.findPerson(pending.person);
    let personId: string;
    if (existing) {
      // Registered meanwhile from another browser: this card joins that account, as a renewed card would.
      personId = existing.id;
      if (!ctx.store.people.findCertificate(pending.certificate.issuer, pending.certificate.serial)) {
        ctx.store.people.linkCertificate(personId, pending.certificate, pending.person.address, now);
      }
    } else {
      personId = ctx.store.people.register(pending.person, pending.draft, pending.certificate, now, pending.holder);
    }
    ctx.store.logins.logIn(session.id, personId, pending.certificate, now);
    // Logged in: a new session id and CSRF token, so no one who knew the session before is in it.
    const fresh = rotateSession(ctx, request, reply);
    const account = ctx.store.people.getAccount(personId)!;
    return reply.type(kHtml).send(renderAccountDonePage({ nickname: account.nickname, logoutCsrfToken: fresh.csrfToken }));
  });

  // キャンセル posts the whole form (it is a button of the form), so any B-01 field may come along.
  app.post('/account/cancel', { schema: { body: Type.Partial(kAccountFormBody) } }, async (request, reply) => {
    const session = requireSession(request);
    if (session.pending) ctx.store.logins.setPending(session.id, null);
    return reply.redirect('/', 303);
  });
};
