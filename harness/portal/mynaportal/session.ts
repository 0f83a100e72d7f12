/**
 * Browser sessions and CSRF protection.
 *
 * The cookie holds a random token, signed with the cookie secret, HttpOnly and SameSite=Lax; the
 * session row is keyed by the token's SHA-256. Each session has its own CSRF token, which every
 * state-changing request must carry: forms as the hidden `_csrf` field, scripts as the
 * `x-csrf-token` header. The phone's QR endpoints opt out (route config `csrf: false`) because the
 * phone has no browser session: the QR token it read is its credential.
 *
 * A session is stored only once there is something to keep (a login nonce, a QR session): until
 * then it lives in its cookie alone, its CSRF token an HMAC of the cookie token, so showing the
 * login page writes nothing. At login the session gets a new id and CSRF token (`rotateSession`),
 * so a cookie planted before the login is worth nothing after it. A login made by a phone (QR) is
 * claimed by the browser that showed the QR code, which rotates the session then; until that
 * claim the session counts as logged out.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../../../iso7816/bytes.js';
import { kSessionIdleMs, later, type PortalContext } from './context.js';
import { PortalError } from './errors.js';
import type { SessionRow } from './store/logins.js';

export const kSessionCookie = 'jpki_portal_session';
export const kCsrfField = '_csrf';
export const kCsrfHeader = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest {
    /** The browser session, when the request carried a valid, unexpired session cookie. */
    portalSession: SessionRow | null;
    /** Whether `portalSession` has its row in the database (false: it lives in its cookie alone). */
    portalSessionStored: boolean;
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

/** The CSRF token of the session whose cookie holds `token`. */
function csrfTokenOf(ctx: PortalContext, token: string): string {
  return createHmac('sha256', ctx.sessionKey).update(`csrf\n${token}`).digest('base64url');
}

/** A session that lives in its cookie alone: nothing logged in, nothing pending. */
function anonymousSession(ctx: PortalContext, token: string): SessionRow {
  const now = ctx.now();
  return {
    id: sessionIdOf(token),
    csrfToken: csrfTokenOf(ctx, token),
    personId: null,
    certIssuer: null,
    certSerial: null,
    loggedInAt: null,
    previousLoginAt: null,
    pending: null,
    awaitingClaim: null,
    createdAt: now.toISOString(),
    expiresAt: later(now, kSessionIdleMs).toISOString(),
  };
}

function loadSession(ctx: PortalContext, request: FastifyRequest): { session: SessionRow; stored: boolean } | null {
  const signed = request.cookies[kSessionCookie];
  if (!signed) return null;
  const unsigned = request.unsignCookie(signed);
  if (!unsigned.valid || !unsigned.value) return null;
  const token = unsigned.value;
  const id = sessionIdOf(token);
  const session = ctx.store.logins.getSession(id);
  const now = ctx.now();
  if (!session || Date.parse(session.expiresAt) <= now.getTime()) {
    // Expired (its row goes) or never stored: what is left is an empty session under the same cookie.
    if (session) ctx.store.logins.deleteSession(id);
    return { session: anonymousSession(ctx, token), stored: false };
  }
  // Idle timeout: every request that finds the session keeps it alive.
  const expiresAt = later(now, kSessionIdleMs);
  ctx.store.logins.extendSession(id, expiresAt);
  const loaded = { ...session, expiresAt: expiresAt.toISOString() };
  // Logged in (or registering) by a phone and not yet claimed by its browser: logged out till then.
  if (loaded.awaitingClaim !== null) return { session: { ...loaded, personId: null, certIssuer: null, certSerial: null, loggedInAt: null, pending: null }, stored: true };
  return { session: loaded, stored: true };
}

/** Loads the session on every request and checks the CSRF token on every state-changing one. */
export function registerSessions(app: FastifyInstance, ctx: PortalContext): void {
  app.decorateRequest('portalSession', null);
  app.decorateRequest('portalSessionStored', false);

  app.addHook('onRequest', async (request) => {
    const loaded = loadSession(ctx, request);
    request.portalSession = loaded?.session ?? null;
    request.portalSessionStored = loaded?.stored ?? false;
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

function setSessionCookie(ctx: PortalContext, reply: FastifyReply, token: string): void {
  reply.setCookie(kSessionCookie, token, { signed: true, httpOnly: true, sameSite: 'lax', path: '/', secure: ctx.secureCookies });
}

/** The request's session, started (its cookie only, nothing stored) when there is none. */
export function ensureSession(ctx: PortalContext, request: FastifyRequest, reply: FastifyReply): SessionRow {
  if (request.portalSession) return request.portalSession;
  const token = randomToken();
  setSessionCookie(ctx, reply, token);
  request.portalSession = anonymousSession(ctx, token);
  request.portalSessionStored = false;
  return request.portalSession;
}

/** The session, which a CSRF-checked route always has. */
export function requireSession(request: FastifyRequest): SessionRow {
  if (!request.portalSession) throw new PortalError('CSRF_INVALID', 'no session');
  return request.portalSession;
}

/** The session, stored now if it lived in its cookie alone: for routes that keep something in it. */
export function storedSession(ctx: PortalContext, request: FastifyRequest): SessionRow {
  const session = requireSession(request);
  if (!request.portalSessionStored) {
    ctx.store.logins.createSession(session.id, session.csrfToken, ctx.now(), new Date(session.expiresAt));
    request.portalSessionStored = true;
  }
  return session;
}

/**
 * A new session id and CSRF token for the request's session, which keeps what it holds: called when
 * a card has just logged the session in (or started its registration), so that whoever knew the
 * session before (a planted cookie, a leaked token) knows nothing of it after. Returns the session
 * as it now is; the reply carries the new cookie.
 */
export function rotateSession(ctx: PortalContext, request: FastifyRequest, reply: FastifyReply): SessionRow {
  const old = storedSession(ctx, request);
  if (ctx.defects.keepSessionAtLogin) {
    // The deliberate flaw: the session logged in keeps the id it had before (session fixation).
    ctx.store.logins.setAwaitingClaim(old.id, null);
    request.portalSession = ctx.store.logins.getSession(old.id)!;
    return request.portalSession;
  }
  const token = randomToken();
  const id = sessionIdOf(token);
  ctx.store.logins.rotateSession(old.id, id, csrfTokenOf(ctx, token), later(ctx.now(), kSessionIdleMs));
  setSessionCookie(ctx, reply, token);
  request.portalSession = ctx.store.logins.getSession(id)!;
  return request.portalSession;
}

/** Ends the session: the row goes (with its nonces and QR sessions) and the cookie is cleared. */
export function endSession(ctx: PortalContext, request: FastifyRequest, reply: FastifyReply): void {
  if (request.portalSession) ctx.store.logins.deleteSession(request.portalSession.id);
  request.portalSession = null;
  request.portalSessionStored = false;
  reply.clearCookie(kSessionCookie, { path: '/', httpOnly: true, sameSite: 'lax', secure: ctx.secureCookies });
}

/** Re-reads the session row after a change made in this request. */
export function reloadSession(ctx: PortalContext, request: FastifyRequest): SessionRow | null {
  if (!request.portalSession) return null;
  request.portalSession = ctx.store.logins.getSession(request.portalSession.id) ?? null;
  return request.portalSession;
}
