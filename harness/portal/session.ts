/**
 * Browser sessions and CSRF protection.
 *
 * The cookie holds a random token, signed with the cookie secret, HttpOnly and SameSite=Lax; the
 * session row is keyed by the token's SHA-256. Each session has its own CSRF token, which every
 * state-changing request must carry: forms as the hidden `_csrf` field, scripts as the
 * `x-csrf-token` header. The phone's QR endpoints opt out (route config `csrf: false`) because the
 * phone has no browser session: the QR token it read is its credential.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../../iso7816/bytes.js';
import { kSessionIdleMs, later, type PortalContext } from './context.js';
import { PortalError } from './errors.js';
import type { SessionRow } from './store.js';

export const kSessionCookie = 'jpki_portal_session';
export const kCsrfField = '_csrf';
export const kCsrfHeader = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest {
    /** The browser session, when the request carried a valid, unexpired session cookie. */
    portalSession: SessionRow | null;
  }
  interface FastifyContextConfig {
    /** false: the route is not protected by the CSRF token (the phone's QR endpoints). */
    csrf?: boolean;
  }
}

function sessionIdOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

function loadSession(ctx: PortalContext, request: FastifyRequest): SessionRow | null {
  const signed = request.cookies[kSessionCookie];
  if (!signed) return null;
  const unsigned = request.unsignCookie(signed);
  if (!unsigned.valid || !unsigned.value) return null;
  const id = sessionIdOf(unsigned.value);
  const session = ctx.store.getSession(id);
  if (!session) return null;
  const now = ctx.now();
  if (Date.parse(session.expiresAt) <= now.getTime()) {
    ctx.store.deleteSession(id);
    return null;
  }
  // Idle timeout: every request that finds the session keeps it alive.
  const expiresAt = later(now, kSessionIdleMs);
  ctx.store.extendSession(id, expiresAt);
  return { ...session, expiresAt: expiresAt.toISOString() };
}

/** Loads the session on every request and checks the CSRF token on every state-changing one. */
export function registerSessions(app: FastifyInstance, ctx: PortalContext): void {
  app.decorateRequest('portalSession', null);

  app.addHook('onRequest', async (request) => {
    request.portalSession = loadSession(ctx, request);
  });

  // preValidation: after the body is parsed (the form field is needed), before the schema, so a
  // forged request is refused as CSRF_INVALID whatever its body looks like.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
    if (request.routeOptions.config.csrf === false) return;
    const session = request.portalSession;
    if (!session) throw new PortalError('CSRF_INVALID', 'no session: the page was not loaded from this portal, or the session expired');
    const header = request.headers[kCsrfHeader];
    const body = request.body as Record<string, unknown> | null | undefined;
    const fromForm = body && typeof body === 'object' ? body[kCsrfField] : undefined;
    const presented = typeof header === 'string' ? header : typeof fromForm === 'string' ? fromForm : undefined;
    if (!presented) throw new PortalError('CSRF_INVALID', `no CSRF token (send the ${kCsrfHeader} header or the ${kCsrfField} field)`);
    if (!constantTimeEqual(Buffer.from(presented), Buffer.from(session.csrfToken))) throw new PortalError('CSRF_INVALID', 'the CSRF token does not match the session');
  });
}

/** The request's session, created (with its cookie) when there is none. */
export function ensureSession(ctx: PortalContext, request: FastifyRequest, reply: FastifyReply): SessionRow {
  if (request.portalSession) return request.portalSession;
  const token = randomToken();
  const now = ctx.now();
  const id = sessionIdOf(token);
  ctx.store.createSession(id, randomToken(), now, later(now, kSessionIdleMs));
  reply.setCookie(kSessionCookie, token, { signed: true, httpOnly: true, sameSite: 'lax', path: '/', secure: ctx.secureCookies });
  const session = ctx.store.getSession(id)!;
  request.portalSession = session;
  return session;
}

/** The session, which a CSRF-checked route always has. */
export function requireSession(request: FastifyRequest): SessionRow {
  if (!request.portalSession) throw new PortalError('CSRF_INVALID', 'no session');
  return request.portalSession;
}

/** Ends the session: the row goes (with its nonces and QR sessions) and the cookie is cleared. */
export function endSession(ctx: PortalContext, request: FastifyRequest, reply: FastifyReply): void {
  if (request.portalSession) ctx.store.deleteSession(request.portalSession.id);
  request.portalSession = null;
  reply.clearCookie(kSessionCookie, { path: '/', httpOnly: true, sameSite: 'lax', secure: ctx.secureCookies });
}

/** Re-reads the session row after a change made in this request. */
export function reloadSession(ctx: PortalContext, request: FastifyRequest): SessionRow | null {
  if (!request.portalSession) return null;
  request.portalSession = ctx.store.getSession(request.portalSession.id) ?? null;
  return request.portalSession;
}
