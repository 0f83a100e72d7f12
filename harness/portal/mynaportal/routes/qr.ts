/**
 * QR login (2次元バーコード, docs/portal-protocols.md):
 *
 *   PC page (browser session, CSRF):
 *     POST /api/qr/sessions                 → { id, qr, qrImage, expiresAt }
 *     GET  /api/qr/sessions/:id/events      server-sent events: waiting, authenticated, failed, expired
 *     GET  /login/qr/:id                    the page's way in once authenticated: claims the login
 *   phone (no browser session; the QR token `t` is its credential, so no CSRF):
 *     POST /api/qr/login/challenge { s, t }                                 → { nonce, expiresAt }
 *     POST /api/qr/login/complete  { s, t, nonce, signature, certificate }  → { next }
 *     POST /api/qr/login/link      { s, t, basic4, basic4Signature }        → { next }
 *     POST /api/qr/login/fail      { s, t, code }                           → { ok: true }
 *
 * A QR session moves waiting → challenged → (card-info →) authenticated, or to failed; it expires
 * after 5 minutes unless it got to one of the two ends. The phone's results log in the browser
 * session that created the QR code, and the PC page hears of it through its event stream; the
 * login counts only once that page claims it (GET /login/qr/:id, which gives the session a new id),
 * so a cookie planted in the browser before is not logged in by the phone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sendEventStream, trackEventStreams } from '../../shared/event-stream.js';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import QRCode from 'qrcode';
import { constantTimeEqual } from '../../../../iso7816/bytes.js';
import { agentMessage } from '../agent-messages.js';
import { kLoginStepTtlMs, later, type PortalContext, type PortalPluginOptions } from '../context.js';
import { isPortalErrorCode, kPortalErrors, PortalError } from '../errors.js';
import { finishSignatureStep, issueNonce, linkCardInfo, spendNonce, verifyLoginSignature } from '../login-service.js';
import type { QrEvent } from '../qr-events.js';
import { base64, kEmptyBody, kNextAnswer, kQrIdSchema, kQrTokenSchema } from '../schemas.js';
import type { QrSessionRow, QrState } from '../store/logins.js';
import { rotateSession, storedSession } from '../session.js';

const kFinalStates: readonly QrState[] = ['authenticated', 'failed'];
const kOpenStates: readonly QrState[] = ['waiting', 'challenged', 'card-info'];

/** Where the PC page goes once the phone has logged it in: the claim of the login. */
export function claimPath(qrSessionId: string): string {
  return `/login/qr/${qrSessionId}`;
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** What the page is told for a failure code: the portal's message, or the phone/agent's. */
function failureMessage(code: string): string {
  return isPortalErrorCode(code) ? kPortalErrors[code].message : agentMessage(code);
}

function isExpired(ctx: PortalContext, qr: QrSessionRow): boolean {
  return Date.parse(qr.expiresAt) <= ctx.now().getTime();
}

/** The event that ends a stream for a QR session in this state, if it has ended. */
function finalEvent(ctx: PortalContext, qr: QrSessionRow): QrEvent | undefined {
  if (qr.state === 'authenticated') return { type: 'authenticated', next: claimPath(qr.id) };
  if (qr.state === 'failed') return { type: 'failed', code: qr.failCode ?? 'UNKNOWN', message: failureMessage(qr.failCode ?? 'UNKNOWN') };
  if (isExpired(ctx, qr)) return { type: 'expired' };
  return undefined;
}

/**
 * The QR session a phone names with `s` and proves with `t`: QR_UNKNOWN for a wrong pair,
 * QR_ALREADY_USED once it has ended, QR_EXPIRED after its 5 minutes (or when the browser session
 * that showed it is gone: nobody is left to log in).
 */
function phoneQrSession(ctx: PortalContext, s: string, t: string): QrSessionRow {
  const qr = ctx.store.logins.getQrSession(s);
  if (!qr || !constantTimeEqual(Buffer.from(tokenHash(t)), Buffer.from(qr.tokenHash))) throw new PortalError('QR_UNKNOWN', 'no QR session with this id and token');
  if (kFinalStates.includes(qr.state)) throw new PortalError('QR_ALREADY_USED', `the QR session has ended (${qr.state})`);
  if (isExpired(ctx, qr)) throw new PortalError('QR_EXPIRED', `the QR session expired at ${qr.expiresAt}`);
  const browser = ctx.store.logins.getSession(qr.browserSessionId);
  if (!browser || Date.parse(browser.expiresAt) <= ctx.now().getTime()) throw new PortalError('QR_EXPIRED', 'the browser session that showed the QR code has ended');
  return qr;
}

const kPhoneBase = { s: kQrIdSchema, t: kQrTokenSchema };

export const qrRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  /** Ends a QR session as failed and tells its page; a session already ended stays as it was. */
  function fail(qrId: string, code: string): void {
    if (ctx.store.logins.moveQrSession(qrId, kOpenStates, 'failed', ctx.now(), { failCode: code })) {
      ctx.qrEvents.publish(qrId, { type: 'failed', code, message: failureMessage(code) });
    }
  }

  /** Runs a phone step; a verification refusal also ends the QR session, so the PC page can say why. */
  async function failing<T>(qrId: string, step: () => Promise<T> | T): Promise<T> {
    try {
      return await step();
    } catch (e) {
      if (e instanceof PortalError && !e.code.startsWith('NONCE_') && !e.code.startsWith('QR_')) fail(qrId, e.code);
      throw e;
    }
  }

  // Streams still open when the portal stops: ended first, or closing would wait for them forever.
  const openStreams = trackEventStreams(app);

  app.post(
    '/api/qr/sessions',
    {
      schema: {
        body: kEmptyBody,
        response: { 200: Type.Object({ id: Type.String(), qr: Type.String(), qrImage: Type.String(), expiresAt: Type.String() }) },
      },
    },
    async (request) => {
      const session = storedSession(ctx, request);
      const now = ctx.now();
      const mine = ctx.store.logins.countOpenQrSessions(now, session.id);
      if (mine >= ctx.limits.qrSessionsPerSession) throw new PortalError('TOO_MANY_QR_SESSIONS', `this browser session has ${mine} QR codes waiting (at most ${ctx.limits.qrSessionsPerSession})`);
      if (ctx.store.logins.countOpenQrSessions(now) >= ctx.limits.qrSessionsTotal) throw new PortalError('SERVER_BUSY', `${ctx.limits.qrSessionsTotal} QR codes are waiting`);
      const id = randomBytes(16).toString('base64url');
      const token = randomBytes(32).toString('base64url');
      const expiresAt = later(now, kLoginStepTtlMs);
      ctx.store.logins.createQrSession({ id, tokenHash: tokenHash(token), browserSessionId: session.id }, now, expiresAt);
      const base = (ctx.publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '');
      const qr = `${base}/m/qr-login?s=${id}&t=${token}`;
      // Rendered here, not in the browser: the page shows a PNG a phone's camera (or the phone
      // agent's screenshot decoder) can read, with no QR library in the page.
      const qrImage = await QRCode.toDataURL(qr, { errorCorrectionLevel: 'M', margin: 4, scale: 4 });
      return { id, qr, qrImage, expiresAt: expiresAt.toISOString() };
    },
  );

  app.get('/api/qr/sessions/:id/events', { schema: { params: Type.Object({ id: kQrIdSchema }) } }, async (request, reply) => {
    const qr = ctx.store.logins.getQrSession(request.params.id);
    if (!qr) throw new PortalError('QR_UNKNOWN', 'no QR session with this id');
    if (request.portalSession?.id !== qr.browserSessionId) throw new PortalError('QR_SESSION_MISMATCH', 'the QR session belongs to another browser session');
    const place = ctx.streams.open(qr.browserSessionId);
    if ('refused' in place) {
      if (place.refused === 'session') throw new PortalError('TOO_MANY_STREAMS', `this browser session has ${ctx.limits.streamsPerSession} event streams open`);
      throw new PortalError('SERVER_BUSY', `${ctx.limits.streamsTotal} event streams are open`);
    }

    const current = (): typeof qr => ctx.store.logins.getQrSession(qr.id) ?? qr;
    return sendEventStream<QrEvent>(reply, openStreams, {
      subscribe: (listener) => ctx.qrEvents.subscribe(qr.id, listener),
      ended: () => finalEvent(ctx, current()),
      isFinal: (event) => event.type !== 'waiting',
      waiting: { type: 'waiting' },
      expiresAtMs: Date.parse(current().expiresAt),
      now: () => ctx.now().getTime(),
      atExpiry: () => {
        const latest = ctx.store.logins.getQrSession(qr.id);
        return latest ? (finalEvent(ctx, latest) ?? { type: 'expired' }) : { type: 'expired' };
      },
      release: () => place.release(),
    });
  });

  // The page heard `authenticated`: this browser (the one that showed the QR code, proven by
  // knowing its id and holding its session) takes the login, under a new session id.
  app.get('/login/qr/:id', { schema: { params: Type.Object({ id: kQrIdSchema }) } }, async (request, reply) => {
    const session = request.portalSession;
    const qr = ctx.store.logins.getQrSession(request.params.id);
    if (!qr) throw new PortalError('QR_UNKNOWN', 'no QR session with this id');
    if (!session || session.id !== qr.browserSessionId) throw new PortalError('QR_SESSION_MISMATCH', 'the QR session belongs to another browser session');
    if (qr.state !== 'authenticated') return reply.redirect('/login', 303);
    if (ctx.store.logins.getSession(session.id)?.awaitingClaim === qr.id) rotateSession(ctx, request, reply);
    return reply.redirect(qr.next ?? '/menu', 303);
  });

  app.post(
    '/api/qr/login/challenge',
    {
      config: { csrf: false },
      onRequest: ctx.limitSignatureChecks,
      schema: { body: Type.Object(kPhoneBase, { additionalProperties: false }), response: { 200: Type.Object({ nonce: Type.String(), expiresAt: Type.String() }) } },
    },
    async (request) => {
      const qr = phoneQrSession(ctx, request.body.s, request.body.t);
      // One phone per QR code: the first challenge claims it.
      if (!ctx.store.logins.moveQrSession(qr.id, ['waiting'], 'challenged', ctx.now())) throw new PortalError('QR_ALREADY_USED', `a phone has already taken this QR code (${qr.state})`);
      return issueNonce(ctx, { qrSessionId: qr.id });
    },
  );

  app.post(
    '/api/qr/login/complete',
    {
      config: { csrf: false },
      onRequest: ctx.limitSignatureChecks,
      schema: {
        body: Type.Object(
          {
            ...kPhoneBase,
            nonce: base64(64, 'the nonce from the challenge'),
            signature: base64(1024, 'PKCS#1 v1.5 signature by the authentication key over SHA-256 of the nonce'),
            certificate: base64(8192, 'DER authentication certificate'),
          },
          { additionalProperties: false },
        ),
        response: { 200: kNextAnswer },
      },
    },
    async (request) => {
      const { s, t } = request.body;
      const qr = phoneQrSession(ctx, s, t);
      if (qr.state === 'card-info') throw new PortalError('QR_ALREADY_USED', 'the signature step of this QR session is done');
      const nonce = spendNonce(ctx, request.body.nonce, { qrSessionId: qr.id });
      const certificate = await failing(qr.id, () => verifyLoginSignature(ctx, nonce, request.body.signature, request.body.certificate));
      // The verifier took time: look again before acting on the browser session.
      const latest = phoneQrSession(ctx, s, t);
      if (latest.state !== 'challenged') throw new PortalError('QR_ALREADY_USED', `the QR session moved on to ${latest.state}`);
      const next = await failing(qr.id, () => finishSignatureStep(ctx, qr.browserSessionId, certificate));
      // The browser session now holds what the phone proved: logged out until its page claims it.
      ctx.store.logins.setAwaitingClaim(qr.browserSessionId, qr.id);
      if (next === 'card-info') {
        ctx.store.logins.moveQrSession(qr.id, ['challenged'], 'card-info', ctx.now());
      } else {
        ctx.store.logins.moveQrSession(qr.id, ['challenged'], 'authenticated', ctx.now(), { next });
        ctx.qrEvents.publish(qr.id, { type: 'authenticated', next: claimPath(qr.id) });
      }
      return { next };
    },
  );

  app.post(
    '/api/qr/login/link',
    {
      config: { csrf: false },
      onRequest: ctx.limitSignatureChecks,
      schema: {
        body: Type.Object(
          { ...kPhoneBase, basic4: base64(2048, 'kenhojo EF 0002 as read'), basic4Signature: base64(1024, 'kenhojo EF 0003 as read') },
          { additionalProperties: false },
        ),
        response: { 200: kNextAnswer },
      },
    },
    async (request) => {
      const qr = phoneQrSession(ctx, request.body.s, request.body.t);
      if (qr.state !== 'card-info') throw new PortalError('LOGIN_PENDING_EXPIRED', `the QR session is not waiting for card info (${qr.state})`);
      const browser = ctx.store.logins.getSession(qr.browserSessionId)!;
      const next = await failing(qr.id, () => linkCardInfo(ctx, browser.id, browser.pending, request.body.basic4, request.body.basic4Signature));
      ctx.store.logins.setAwaitingClaim(browser.id, qr.id);
      ctx.store.logins.moveQrSession(qr.id, ['card-info'], 'authenticated', ctx.now(), { next });
      ctx.qrEvents.publish(qr.id, { type: 'authenticated', next: claimPath(qr.id) });
      return { next };
    },
  );

  app.post(
    '/api/qr/login/fail',
    {
      config: { csrf: false },
      onRequest: ctx.limitSignatureChecks,
      schema: {
        body: Type.Object({ ...kPhoneBase, code: Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,63}$', description: 'the agent code, e.g. WRONG_PIN' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ ok: Type.Boolean() }) },
      },
    },
    async (request) => {
      const qr = phoneQrSession(ctx, request.body.s, request.body.t);
      fail(qr.id, request.body.code);
      return { ok: true };
    },
  );
};

