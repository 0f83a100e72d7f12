/**
 * Online application with an electronic signature (docs/portal-protocols.md, "Online application
 * with an electronic signature"), after the TASK-portal and LoGo form + マイナサイン guides:
 *
 *   pages (logged-in browser session; forms carry the CSRF field):
 *     GET  /applications/new                 AP-01 申請内容の入力 (「マイナンバーカードから入力」)
 *     POST /applications/confirm             → 303 /applications/:id/confirm
 *     GET  /applications/:id/confirm         AP-02 申請内容の確認: 電子署名を行う, then 申請する
 *     POST /applications/:id/submit          re-verifies the signature → 303 /applications/:id/complete
 *     GET  /applications/:id/complete        AP-03 申請完了, with the submission number
 *     GET  /m/sign                           M-02: the https hand-off opened outside the app
 *   page scripts (CSRF header):
 *     POST /api/applications/prefill { basic4, basic4Signature }  → { name, address }
 *     GET  /api/submissions/:id/verify       → { code, message, … } (verifies the stored CMS again)
 *
 * The hand-off to the signing app is routes/signing.ts; the signature check, document-signature.ts.
 */
import { randomBytes } from 'node:crypto';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { jstIsoDate } from '../../../../common/jst.js';
import { applicationDocument, documentSummary, formFrom, kDefaultRecipient, kDefaultTitle } from '../application-document.js';
import type { PortalContext, PortalPluginOptions } from '../context.js';
import { SignatureRefusal, verifyDocumentSignature } from '../document-signature.js';
import { kPortalErrors, PortalError } from '../errors.js';
import { checkedCardInfo } from '../login-service.js';
import { base64 } from '../schemas.js';
import type { ApplicationRow } from '../store/applications.js';
import type { SessionRow } from '../store/logins.js';
import { renderApplicationComplete, renderApplicationConfirm, renderApplicationForm, renderSignLanding, type ApplicationForm } from '../views/application-pages.js';

const kHtml = 'text/html; charset=utf-8';

export const kIdSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' });
const kSubmissionIdSchema = Type.String({ pattern: '^[A-Z0-9-]{4,32}$' });

export function loggedIn(request: { portalSession: SessionRow | null }): SessionRow & { personId: string } {
  const session = request.portalSession;
  if (!session?.personId || !session.loggedInAt) throw new PortalError('NOT_LOGGED_IN', 'applications need a logged-in session');
  return session as SessionRow & { personId: string };
}

/** The person's application, or APPLICATION_NOT_FOUND (also for another person's). */
export function ownApplication(ctx: PortalContext, session: { personId: string }, id: string): ApplicationRow {
  const application = ctx.store.applications.getApplication(id);
  if (!application || application.personId !== session.personId) throw new PortalError('APPLICATION_NOT_FOUND', `no application ${id} of this person`);
  return application;
}

export const applicationRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  app.get('/m/sign', async (_request, reply) => reply.type(kHtml).send(renderSignLanding()));

  app.get('/applications/new', async (request, reply) => {
    const session = loggedIn(request);
    const form: ApplicationForm = { recipient: kDefaultRecipient, title: kDefaultTitle, name: '', address: '', phone: '', note: '' };
    return reply.type(kHtml).header('cache-control', 'no-store').send(renderApplicationForm({ form, errors: {}, csrfToken: session.csrfToken, pcAgentUrl: ctx.pcAgentUrl }));
  });

  app.post('/applications/confirm', { schema: { body: Type.Record(Type.String(), Type.String({ maxLength: 1000 })) } }, async (request, reply) => {
    const session = loggedIn(request);
    const { form, errors } = formFrom(request.body);
    if (Object.keys(errors).length > 0) {
      return reply.type(kHtml).header('cache-control', 'no-store').send(renderApplicationForm({ form, errors, csrfToken: session.csrfToken, pcAgentUrl: ctx.pcAgentUrl }));
    }
    const id = randomBytes(16).toString('base64url');
    const now = ctx.now();
    ctx.store.applications.createApplication({ id, personId: session.personId, form: { ...form }, document: applicationDocument(id, form, jstIsoDate(now)) }, now);
    return reply.code(303).redirect(`/applications/${id}/confirm`);
  });

  app.get('/applications/:id/confirm', { schema: { params: Type.Object({ id: kIdSchema }) } }, async (request, reply) => {
    const session = loggedIn(request);
    const application = ownApplication(ctx, session, request.params.id);
    if (application.state === 'submitted') return reply.code(303).redirect(`/applications/${application.id}/complete`);
    return reply
      .type(kHtml)
      .header('cache-control', 'no-store')
      .send(
        renderApplicationConfirm({
          id: application.id,
          form: application.form as unknown as ApplicationForm,
          appliedOn: documentSummary(application.document).appliedOn,
          signed: application.state === 'signed',
          csrfToken: session.csrfToken,
        }),
      );
  });

  app.post('/applications/:id/submit', { schema: { params: Type.Object({ id: kIdSchema }) } }, async (request, reply) => {
    const session = loggedIn(request);
    const application = ownApplication(ctx, session, request.params.id);
    if (application.state === 'submitted') throw new PortalError('APPLICATION_ALREADY_SUBMITTED', `application ${application.id} was submitted`);
    if (application.state !== 'signed' || !application.cms) throw new PortalError('APPLICATION_NOT_SIGNED', `application ${application.id} is ${application.state}`);
    // What is submitted must be what was signed: verify again, against the document as it is now.
    await verifyDocumentSignature(ctx, application.cms, Buffer.from(application.document, 'utf8'));
    const submissionId = `${jstIsoDate(ctx.now()).replace(/-/g, '')}-${randomBytes(4).toString('hex').toUpperCase()}`;
    if (!ctx.store.applications.submitApplication({ id: submissionId, applicationId: application.id, personId: session.personId, document: application.document, cms: application.cms }, ctx.now())) {
      throw new PortalError('APPLICATION_ALREADY_SUBMITTED', `application ${application.id} was submitted concurrently`);
    }
    return reply.code(303).redirect(`/applications/${application.id}/complete`);
  });

  app.get('/applications/:id/complete', { schema: { params: Type.Object({ id: kIdSchema }) } }, async (request, reply) => {
    const session = loggedIn(request);
    const application = ownApplication(ctx, session, request.params.id);
    const submission = ctx.store.applications.submissionOf(application.id);
    if (!submission) throw new PortalError('APPLICATION_NOT_SIGNED', `application ${application.id} has not been submitted`);
    const summary = documentSummary(submission.document);
    return reply.type(kHtml).send(renderApplicationComplete({ submissionId: submission.id, title: summary.title, recipient: summary.recipient, logoutCsrfToken: session.csrfToken }));
  });

  app.post(
    '/api/applications/prefill',
    {
      schema: {
        body: Type.Object({ basic4: base64(2048, 'kenhojo EF 0002 as read'), basic4Signature: base64(1024, 'kenhojo EF 0003 as read') }, { additionalProperties: false }),
        response: { 200: Type.Object({ name: Type.String(), address: Type.String() }) },
      },
    },
    async (request) => {
      loggedIn(request);
      const person = checkedCardInfo(ctx, request.body.basic4, request.body.basic4Signature);
      return { name: person.name, address: person.address };
    },
  );

  app.get('/api/submissions/:id/verify', { schema: { params: Type.Object({ id: kSubmissionIdSchema }) } }, async (request) => {
    const session = loggedIn(request);
    const submission = ctx.store.applications.getSubmission(request.params.id);
    if (!submission || submission.personId !== session.personId) throw new PortalError('SUBMISSION_NOT_FOUND', `no submission ${request.params.id} of this person`);
    const base = { submissionId: submission.id, submittedAt: submission.submittedAt };
    try {
      const verdict = await verifyDocumentSignature(ctx, submission.cms, Buffer.from(submission.document, 'utf8'));
      return { ...base, code: 'OK', message: '電子署名は有効です。', certificate: verdict.certificate, signingTime: verdict.signingTime };
    } catch (e) {
      if (!(e instanceof PortalError) || e.code === 'REVOCATION_UNAVAILABLE' || e.code === 'INTERNAL_ERROR') throw e;
      const refusal = e instanceof SignatureRefusal ? e : undefined;
      return {
        ...base,
        code: e.code,
        message: refusal ? refusal.text : kPortalErrors[e.code].message,
        ...(refusal?.revocation ? { revocation: refusal.revocation } : {}),
        ...(ctx.testMode && e.detail ? { detail: e.detail } : {}),
      };
    }
  });
};
