/**
 * The hand-off of an application to the signing app, and the outcome pushed back to the PC page
 * (docs/portal-protocols.md, "Online application with an electronic signature"):
 *
 *   page script (CSRF header):
 *     POST /api/applications/:id/signing {}                        → { id, link, qr, qrImage, expiresAt }
 *     GET  /api/sign/sessions/:id/events     server-sent events: waiting, retry, signed, failed, expired
 *   the signing app (the token `t` is its credential, no CSRF):
 *     GET  /api/sign/sessions/:id/document?t=          → { summary, document, expiresAt }
 *     POST /api/sign/sessions/:id/complete { t, cms }  → { ok: true }
 *     POST /api/sign/sessions/:id/fail { t, code, triesLeft? } → { ok: true }
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import QRCode from 'qrcode';
import { constantTimeEqual, fromBase64, toBase64 } from '../../../../iso7816/bytes.js';
import { sendEventStream, trackEventStreams } from '../../shared/event-stream.js';
import { documentSummary } from '../application-document.js';
import { later, type PortalContext, type PortalPluginOptions } from '../context.js';
import { SignatureRefusal, verifyDocumentSignature } from '../document-signature.js';
import { kPortalErrors, PortalError } from '../errors.js';
import { base64, kEmptyBody } from '../schemas.js';
import type { SigningSessionRow } from '../store/applications.js';
import { signingAppMessage } from '../views/signing-messages.js';
import { kIdSchema, loggedIn, ownApplication } from './applications.js';

/** How long a signing hand-off lives. */
export const kSigningTtlMs = 10 * 60 * 1000;

const kTokenSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{32,128}$' });

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

export const signingRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const publish = (id: string, event: SigningEvent): boolean => events.emit(id, event);
  const openStreams = trackEventStreams(app);

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
      const application = ownApplication(ctx, session, request.params.id);
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
};
