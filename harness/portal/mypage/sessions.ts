/**
 * My Page's browser sessions: a random token in a signed, HttpOnly, SameSite=Lax cookie, the
 * session kept in memory under the token's SHA-256, with its own CSRF token that every POST form
 * carries as `_csrf`. The phone app's API (/api/xid/*) has no cookies and no CSRF: its credential is
 * the linking transaction's one-time token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PendingCode } from './codes.js';
import { MyPageError } from './errors.js';

export const kMyPageCookie = 'jpki_mypage_session';
export const kCsrfField = '_csrf';
const kIdleMs = 30 * 60_000;

/** Account creation in progress. */
export interface Signup {
  email?: string;
  passwordHash?: string;
  code?: PendingCode;
  emailVerified: boolean;
}

export interface MyPageSession {
  id: string;
  csrfToken: string;
  accountId?: string;
  signup?: Signup;
  /** A one-time notice for the next page (e.g. アカウント作成完了). */
  flash?: string;
  expiresAt: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    myPageSession: MyPageSession | null;
  }
}

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

export class MyPageSessions {
  private readonly _sessions = new Map<string, MyPageSession>();

  constructor(
    private readonly _now: () => Date,
    private readonly _secure: () => boolean,
  ) {}

  register(app: FastifyInstance): void {
    app.decorateRequest('myPageSession', null);
    app.addHook('onRequest', async (request) => {
      request.myPageSession = this._load(request);
    });
    app.addHook('preValidation', async (request) => {
      if (request.method !== 'POST') return;
      const session = request.myPageSession;
      const body = request.body as Record<string, unknown> | null | undefined;
      const presented = body && typeof body === 'object' && typeof body[kCsrfField] === 'string' ? (body[kCsrfField] as string) : undefined;
      if (!session) throw new MyPageError('CSRF_INVALID', 'no session');
      if (!presented) throw new MyPageError('CSRF_INVALID', `no ${kCsrfField} field`);
      const a = Buffer.from(presented);
      const b = Buffer.from(session.csrfToken);
      if (a.length !== b.length || !timingSafeEqual(a, b)) throw new MyPageError('CSRF_INVALID', 'the CSRF token does not match the session');
    });
  }

  ensure(request: FastifyRequest, reply: FastifyReply): MyPageSession {
    if (request.myPageSession) return request.myPageSession;
    const token = randomBytes(32).toString('base64url');
    const session: MyPageSession = { id: hashOf(token), csrfToken: randomBytes(24).toString('base64url'), expiresAt: this._now().getTime() + kIdleMs };
    this._sessions.set(session.id, session);
    reply.setCookie(kMyPageCookie, token, { signed: true, httpOnly: true, sameSite: 'lax', path: '/', secure: this._secure() });
    request.myPageSession = session;
    return session;
  }

  /** A new session id after login, so that a session fixed before login is worth nothing after. */
  renew(request: FastifyRequest, reply: FastifyReply): MyPageSession {
    const old = request.myPageSession;
    if (old) this._sessions.delete(old.id);
    request.myPageSession = null;
    return this.ensure(request, reply);
  }

  end(request: FastifyRequest, reply: FastifyReply): void {
    if (request.myPageSession) this._sessions.delete(request.myPageSession.id);
    request.myPageSession = null;
    reply.clearCookie(kMyPageCookie, { path: '/' });
  }

  private _load(request: FastifyRequest): MyPageSession | null {
    const signed = request.cookies[kMyPageCookie];
    if (!signed) return null;
    const unsigned = request.unsignCookie(signed);
    if (!unsigned.valid || !unsigned.value) return null;
    const session = this._sessions.get(hashOf(unsigned.value));
    if (!session) return null;
    const now = this._now().getTime();
    if (session.expiresAt <= now) {
      this._sessions.delete(session.id);
      return null;
    }
    session.expiresAt = now + kIdleMs;
    return session;
  }
}
