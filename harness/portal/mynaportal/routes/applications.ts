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
 *     POST /api/applications/:id/signing {}                        → { id, link, qr, qrImage, expiresAt }
 *     GET  /api/sign/sessions/:id/events     server-sent events: waiting, retry, signed, failed, expired
 *     GET  /api/submissions/:id/verify       → { code, message, … } (verifies the stored CMS again)
 *   the signing app (the token `t` is its credential, no CSRF):
 *     GET  /api/sign/sessions/:id/document?t=          → { summary, document, expiresAt }
 *     POST /api/sign/sessions/:id/complete { t, cms }  → { ok: true }
 *     POST /api/sign/sessions/:id/fail { t, code, triesLeft? } → { ok: true }
 *
 * A signature is believed only when both hold: the CMS itself (parsed with pkijs; detached;
 * SHA-256; the message digest equals SHA-256 of the canonical document; the signature over the
 * signed attributes verifies with the included certificate), the verification service's verdict
 * on that certificate and signature (kind 'sign': chain, validity, revocation), and the applicant
 * check: the person the signature certificate names is the applicant the document names.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { sendEventStream, trackEventStreams } from '../../shared/event-stream.js';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import QRCode from 'qrcode';
import { constantTimeEqual, fromBase64, toBase64 } from '../../../../iso7816/bytes.js';
import { jstIsoDate } from '../../../../common/jst.js';
import { later, type PortalContext, type PortalPluginOptions } from '../context.js';
import { isPortalErrorCode, kPortalErrors, PortalError, type PortalErrorCode } from '../errors.js';
import { base64, kEmptyBody } from '../schemas.js';
import { comparableText, signerIdentity } from '../signer-identity.js';
import type { ApplicationRow, SigningSessionRow } from '../store/applications.js';
import type { SessionRow } from '../store/logins.js';
import { checkedCardInfo } from '../login-service.js';
import type { CertificateSummary, VerificationResult } from '../../verification/types.js';
import { renderApplicationComplete, renderApplicationConfirm, renderApplicationForm, renderSignLanding, type ApplicationForm } from '../views/application-pages.js';
import { revocationReasonText, signingAppMessage } from '../views/signing-messages.js';
import { kCmsOids } from '../../../cms/signed-data.js';

/** How long a signing hand-off lives. */
export const kSigningTtlMs = 10 * 60 * 1000;
const kHtml = 'text/html; charset=utf-8';

export const kDefaultRecipient = 'jpki-hil市';
export const kDefaultTitle = '〇〇ポイント申請';

/** The fields of AP-01, with their limits (characters). */
const kFieldLimits: Record<keyof ApplicationForm, number> = { recipient: 100, title: 100, name: 100, address: 200, phone: 20, note: 500 };

// --- the canonical document ----------------------------------------------------------------------

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** JSON with keys sorted at every level (UTF-16 code unit order), no whitespace; signed as UTF-8. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}


/** The application document of docs/portal-protocols.md: what the person signs. */
export function applicationDocument(id: string, form: ApplicationForm, appliedOn: string): string {
  return canonicalJson({
    version: 1,
    applicationId: id,
    recipient: form.recipient,
    title: form.title,
    appliedOn,
    applicant: { name: form.name, address: form.address },
    fields: { phone: form.phone, note: form.note },
  });
}

function documentSummary(document: string): { recipient: string; title: string; appliedOn: string } {
  const parsed = JSON.parse(document) as { recipient?: unknown; title?: unknown; appliedOn?: unknown };
  return { recipient: String(parsed.recipient ?? ''), title: String(parsed.title ?? ''), appliedOn: String(parsed.appliedOn ?? '') };
}

// --- CMS verification ----------------------------------------------------------------------------


/** A verified signature: who signed and when they say they did. */
export interface CmsVerdict {
  certificate: CertificateSummary;
  signingTime: string;
}

/** A refusal with the verifier's extra facts (the revocation reason) for the page and the answer. */
class SignatureRefusal extends PortalError {
  constructor(
    code: PortalErrorCode,
    detail: string,
    readonly revocation?: VerificationResult['revocation'],
  ) {
    super(code, detail);
  }
  /** The registry's message, with the revocation reason when there is one. */
  get text(): string {
    const base = kPortalErrors[this.code].message;
    return this.revocation ? `${base}（失効理由: ${revocationReasonText(this.revocation.reason)}）` : base;
  }
}

function cmsInvalid(detail: string): PortalError {
  return new PortalError('CMS_INVALID', detail);
}

const kVerifierToSign: Partial<Record<string, PortalErrorCode>> = {
  UNSUPPORTED_CERTIFICATE: 'SIGN_CERTIFICATE_UNSUPPORTED',
  CERTIFICATE_EXPIRED: 'SIGN_CERTIFICATE_EXPIRED',
  CERTIFICATE_REVOKED: 'SIGN_CERTIFICATE_REVOKED',
  SIGNATURE_MISMATCH: 'SIGN_SIGNATURE_MISMATCH',
};

function attributeValue(signerInfo: pkijs.SignerInfo, oid: string): unknown {
  const attribute = signerInfo.signedAttrs?.attributes.find((a) => a.type === oid);
  if (!attribute || attribute.values.length !== 1) throw cmsInvalid(`the signed attributes lack exactly one ${oid}`);
  return attribute.values[0];
}

/**
 * Verifies a detached CMS SignedData over `document`; throws the registry code of the first thing
 * wrong. The structure and the message digest are checked here; the signature over the signed
 * attributes, the chain, the validity and the revocation of the certificate by the verifier.
 */
export async function verifyDocumentSignature(ctx: PortalContext, cms: Uint8Array, document: Uint8Array): Promise<CmsVerdict> {
  let signedData: pkijs.SignedData;
  try {
    const contentInfo = pkijs.ContentInfo.fromBER(cms);
    if (contentInfo.contentType !== kCmsOids.signedData) throw cmsInvalid(`the content type is ${contentInfo.contentType}, not signedData`);
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch (e) {
    if (e instanceof PortalError) throw e;
    throw cmsInvalid(`not a CMS ContentInfo: ${(e as Error).message}`);
  }
  if (signedData.encapContentInfo.eContentType !== kCmsOids.data) throw cmsInvalid('the encapsulated content type is not id-data');
  if (signedData.encapContentInfo.eContent) throw cmsInvalid('the signature is not detached: it carries the content');
  if (signedData.signerInfos.length !== 1) throw cmsInvalid(`${signedData.signerInfos.length} signers, expected one`);
  const signerInfo = signedData.signerInfos[0]!;
  if (signerInfo.digestAlgorithm.algorithmId !== kCmsOids.sha256) throw cmsInvalid(`the digest algorithm is ${signerInfo.digestAlgorithm.algorithmId}, not SHA-256`);
  if (!signerInfo.signedAttrs) throw cmsInvalid('no signed attributes');
  if (!(signerInfo.sid instanceof pkijs.IssuerAndSerialNumber)) throw cmsInvalid('the signer is not named by issuer and serial number');
  const sid = signerInfo.sid;
  const certificate = (signedData.certificates ?? []).find(
    (c): c is pkijs.Certificate => c instanceof pkijs.Certificate && c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber),
  );
  if (!certificate) throw cmsInvalid('the signer certificate is not in the CMS');

  const contentType = attributeValue(signerInfo, kCmsOids.contentType);
  if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== kCmsOids.data) throw cmsInvalid('the content-type attribute is not id-data');
  const signingTime = attributeValue(signerInfo, kCmsOids.signingTime);
  if (!(signingTime instanceof asn1js.UTCTime || signingTime instanceof asn1js.GeneralizedTime)) throw cmsInvalid('the signing-time attribute is not a time');
  const messageDigest = attributeValue(signerInfo, kCmsOids.messageDigest);
  if (!(messageDigest instanceof asn1js.OctetString)) throw cmsInvalid('the message-digest attribute is not an OCTET STRING');
  const digest = createHash('sha256').update(document).digest();
  if (!constantTimeEqual(new Uint8Array(messageDigest.valueBlock.valueHexView), digest)) {
    throw new PortalError('DOCUMENT_MISMATCH', 'the message digest is not SHA-256 of the application document');
  }

  // pkijs keeps the attributes as received, re-tagged from [0] to SET: exactly what was signed.
  const signedAttributes = new Uint8Array(signerInfo.signedAttrs.encodedValue);
  const signature = new Uint8Array(signerInfo.signature.valueBlock.valueHexView);
  let result: VerificationResult;
  try {
    result = await ctx.verifier.verifySignature(
      { certificate: new Uint8Array(certificate.toSchema().toBER()), signature, data: signedAttributes, algorithm: 'sha256', kind: 'sign' },
      { at: ctx.now() },
    );
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && isPortalErrorCode(code)) throw new PortalError(code, (e as Error).message);
    throw e;
  }
  if (result.code !== 'OK') throw new SignatureRefusal(kVerifierToSign[result.code] ?? 'INTERNAL_ERROR', result.detail, result.revocation);
  if (!result.certificate) throw new PortalError('SIGN_CERTIFICATE_UNSUPPORTED', 'the verifier did not identify the certificate');
  if (!ctx.flaws.has('skip-applicant-check')) checkApplicant(certificate, document);
  return { certificate: result.certificate, signingTime: signingTime.toDate().toISOString() };
}

/**
 * A valid signature is not yet the applicant's: the person the signature certificate names (its
 * SAN, bound to the key that signed) must be the applicant the document names — same name and
 * same address, compared as people write them (comparableText) — else APPLICANT_MISMATCH.
 */
function checkApplicant(certificate: pkijs.Certificate, document: Uint8Array): void {
  let applicant: { name?: unknown; address?: unknown } | undefined;
  try {
    applicant = (JSON.parse(Buffer.from(document).toString('utf8')) as { applicant?: { name?: unknown; address?: unknown } }).applicant;
  } catch {
    applicant = undefined;
  }
  if (typeof applicant?.name !== 'string' || typeof applicant.address !== 'string') throw new PortalError('APPLICANT_MISMATCH', 'the document names no applicant');
  const signer = signerIdentity(certificate);
  if (signer.name === undefined || signer.address === undefined) throw new PortalError('APPLICANT_MISMATCH', 'the signature certificate names no person (no JPKI subjectAltName)');
  if (comparableText(signer.name) !== comparableText(applicant.name)) {
    throw new PortalError('APPLICANT_MISMATCH', `the document names the applicant ${applicant.name}, the signature certificate ${signer.name}`);
  }
  if (comparableText(signer.address) !== comparableText(applicant.address)) {
    throw new PortalError('APPLICANT_MISMATCH', `the applicant's address in the document is not the one in the signature certificate`);
  }
}

// --- events to the PC page -----------------------------------------------------------------------

type SigningEvent =
  | { type: 'waiting' }
  | { type: 'retry'; code: string; message: string }
  | { type: 'signed' }
  | { type: 'failed'; code: string; message: string }
  | { type: 'expired' };

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function isExpired(ctx: PortalContext, row: { expiresAt: string }): boolean {
  return Date.parse(row.expiresAt) <= ctx.now().getTime();
}

function finalEvent(ctx: PortalContext, row: SigningSessionRow): SigningEvent | undefined {
  if (row.state === 'signed') return { type: 'signed' };
  if (row.state === 'failed') return { type: 'failed', code: row.failCode ?? 'UNKNOWN', message: row.failMessage ?? signingAppMessage(row.failCode ?? 'UNKNOWN') };
  if (isExpired(ctx, row)) return { type: 'expired' };
  return undefined;
}

// --- the plugin ----------------------------------------------------------------------------------

const kIdSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' });
const kTokenSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{32,128}$' });
const kSubmissionIdSchema = Type.String({ pattern: '^[A-Z0-9-]{4,32}$' });

function loggedIn(request: { portalSession: SessionRow | null }): SessionRow & { personId: string } {
  const session = request.portalSession;
  if (!session?.personId || !session.loggedInAt) throw new PortalError('NOT_LOGGED_IN', 'applications need a logged-in session');
  return session as SessionRow & { personId: string };
}

function formFrom(body: Record<string, unknown>): { form: ApplicationForm; errors: Partial<Record<keyof ApplicationForm, string>> } {
  const value = (key: keyof ApplicationForm, fallback = ''): string => (typeof body[key] === 'string' ? (body[key] as string).trim() : fallback);
  const form: ApplicationForm = {
    recipient: value('recipient', kDefaultRecipient) || kDefaultRecipient,
    title: value('title', kDefaultTitle) || kDefaultTitle,
    name: value('name'),
    address: value('address'),
    phone: value('phone'),
    note: value('note'),
  };
  const errors: Partial<Record<keyof ApplicationForm, string>> = {};
  if (form.name === '') errors.name = '氏名を入力してください。';
  if (form.address === '') errors.address = '住所を入力してください。';
  if (form.phone !== '' && !/^[0-9-]{10,13}$/.test(form.phone)) errors.phone = '電話番号は半角数字とハイフンで入力してください。';
  for (const [key, limit] of Object.entries(kFieldLimits) as [keyof ApplicationForm, number][]) {
    if ([...form[key]].length > limit) errors[key] = `${limit}文字以内で入力してください。`;
  }
  return { form, errors };
}

export const applicationRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const publish = (id: string, event: SigningEvent): boolean => events.emit(id, event);
  const openStreams = trackEventStreams(app);

  /** The person's application, or APPLICATION_NOT_FOUND (also for another person's). */
  function ownApplication(session: { personId: string }, id: string): ApplicationRow {
    const application = ctx.store.applications.getApplication(id);
    if (!application || application.personId !== session.personId) throw new PortalError('APPLICATION_NOT_FOUND', `no application ${id} of this person`);
    return application;
  }

  /** The signing session a phone names and proves: unknown, ended, expired (or its browser gone). */
  function phoneSigningSession(id: string, token: string): SigningSessionRow {
    const row = ctx.store.applications.getSigningSession(id);
    if (!row || !constantTimeEqual(Buffer.from(tokenHash(token)), Buffer.from(row.tokenHash))) throw new PortalError('SIGN_SESSION_UNKNOWN', 'no signing session with this id and token');
    if (row.state !== 'waiting') throw new PortalError('SIGN_SESSION_USED', `the signing session has ended (${row.state})`);
    if (isExpired(ctx, row)) throw new PortalError('SIGN_SESSION_EXPIRED', `the signing session expired at ${row.expiresAt}`);
    const browser = ctx.store.logins.getSession(row.browserSessionId);
    if (!browser || isExpired(ctx, browser)) throw new PortalError('SIGN_SESSION_EXPIRED', 'the browser session that asked for the signature has ended');
    return row;
  }

  function fail(row: SigningSessionRow, code: string, message: string): void {
    if (ctx.store.applications.failSigningSession(row.id, code, message, ctx.now())) publish(row.id, { type: 'failed', code, message });
  }


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
    const application = ownApplication(session, request.params.id);
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
    const application = ownApplication(session, request.params.id);
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
    const application = ownApplication(session, request.params.id);
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

  app.post(
    '/api/applications/:id/signing',
    {
      schema: {
        params: Type.Object({ id: kIdSchema }),
        body: kEmptyBody,
        response: { 200: Type.Object({ id: Type.String(), link: Type.String(), https: Type.String(), qrImage: Type.String(), expiresAt: Type.String() }) },
      },
    },
    async (request) => {
      const session = loggedIn(request);
      const application = ownApplication(session, request.params.id);
      if (application.state === 'submitted') throw new PortalError('APPLICATION_ALREADY_SUBMITTED', `application ${application.id} was submitted`);
      const id = randomBytes(16).toString('base64url');
      const token = randomBytes(32).toString('base64url');
      const now = ctx.now();
      const expiresAt = later(now, kSigningTtlMs);
      ctx.store.applications.createSigningSession({ id, tokenHash: tokenHash(token), applicationId: application.id, browserSessionId: session.id }, now, expiresAt);
      const base = (ctx.publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '');
      const link = `jpkihil-sign://sign?s=${id}&t=${token}&portal=${encodeURIComponent(base)}`;
      const qrImage = await QRCode.toDataURL(link, { errorCorrectionLevel: 'M', margin: 4, scale: 4 });
      return { id, link, https: `${base}/m/sign?s=${id}&t=${token}`, qrImage, expiresAt: expiresAt.toISOString() };
    },
  );

  app.get('/api/sign/sessions/:id/events', { schema: { params: Type.Object({ id: kIdSchema }) } }, async (request, reply) => {
    const row = ctx.store.applications.getSigningSession(request.params.id);
    if (!row) throw new PortalError('SIGN_SESSION_UNKNOWN', 'no signing session with this id');
    if (request.portalSession?.id !== row.browserSessionId) throw new PortalError('SIGN_SESSION_MISMATCH', 'the signing session belongs to another browser session');
    const place = ctx.streams.open(row.browserSessionId);
    if ('refused' in place) throw new PortalError(place.refused === 'session' ? 'TOO_MANY_STREAMS' : 'SERVER_BUSY', `event streams: the ${place.refused} limit is reached`);
    const current = (): typeof row => ctx.store.applications.getSigningSession(row.id) ?? row;
    return sendEventStream<SigningEvent>(reply, openStreams, {
      subscribe: (listener) => {
        events.on(row.id, listener);
        return () => events.off(row.id, listener);
      },
      ended: () => finalEvent(ctx, current()),
      isFinal: (event) => event.type !== 'waiting' && event.type !== 'retry',
      waiting: { type: 'waiting' },
      expiresAtMs: Date.parse(current().expiresAt),
      now: () => ctx.now().getTime(),
      atExpiry: () => {
        const latest = ctx.store.applications.getSigningSession(row.id);
        return (latest && finalEvent(ctx, latest)) ?? { type: 'expired' };
      },
      release: () => place.release(),
    });
  });

  app.get(
    '/api/sign/sessions/:id/document',
    {
      schema: {
        params: Type.Object({ id: kIdSchema }),
        querystring: Type.Object({ t: kTokenSchema }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            summary: Type.Object({ recipient: Type.String(), title: Type.String(), appliedOn: Type.String() }),
            document: Type.String(),
            expiresAt: Type.String(),
          }),
        },
      },
    },
    async (request) => {
      const row = phoneSigningSession(request.params.id, request.query.t);
      const application = ctx.store.applications.getApplication(row.applicationId);
      if (!application) throw new PortalError('APPLICATION_NOT_FOUND', 'the application of this signing session is gone');
      return { summary: documentSummary(application.document), document: toBase64(Buffer.from(application.document, 'utf8')), expiresAt: row.expiresAt };
    },
  );

  app.post(
    '/api/sign/sessions/:id/complete',
    {
      config: { csrf: false },
      onRequest: ctx.limitSignatureChecks,
      schema: {
        params: Type.Object({ id: kIdSchema }),
        body: Type.Object({ t: kTokenSchema, cms: base64(16384, 'DER CMS SignedData, detached, over the application document') }, { additionalProperties: false }),
        response: { 200: Type.Object({ ok: Type.Boolean() }) },
      },
    },
    async (request) => {
      const row = phoneSigningSession(request.params.id, request.body.t);
      const application = ctx.store.applications.getApplication(row.applicationId);
      if (!application) throw new PortalError('APPLICATION_NOT_FOUND', 'the application of this signing session is gone');
      if (application.state === 'submitted') throw new PortalError('APPLICATION_ALREADY_SUBMITTED', `application ${application.id} was submitted`);
      const cms = fromBase64(request.body.cms);
      try {
        await verifyDocumentSignature(ctx, cms, Buffer.from(application.document, 'utf8'));
      } catch (e) {
        // A verdict on the signature ends the session, and the PC page hears why.
        if (e instanceof PortalError && e.code !== 'REVOCATION_UNAVAILABLE' && e.code !== 'INTERNAL_ERROR') {
          fail(row, e.code, e instanceof SignatureRefusal ? e.text : kPortalErrors[e.code].message);
        }
        throw e;
      }
      if (!ctx.store.applications.completeSigning(row.id, application.id, cms, ctx.now())) throw new PortalError('SIGN_SESSION_USED', 'the signing session ended while the signature was verified');
      publish(row.id, { type: 'signed' });
      return { ok: true };
    },
  );

  app.post(
    '/api/sign/sessions/:id/fail',
    {
      config: { csrf: false },
      schema: {
        params: Type.Object({ id: kIdSchema }),
        body: Type.Object(
          { t: kTokenSchema, code: Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,63}$' }), triesLeft: Type.Optional(Type.Integer({ minimum: 0, maximum: 15 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ ok: Type.Boolean() }) },
      },
    },
    async (request) => {
      const row = phoneSigningSession(request.params.id, request.body.t);
      const { code, triesLeft } = request.body;
      const message = signingAppMessage(code, triesLeft);
      // A wrong password is tried again in the app, within the same hand-off; anything else ends it.
      if (code === 'WRONG_PIN') publish(row.id, { type: 'retry', code, message });
      else fail(row, code, message);
      return { ok: true };
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
