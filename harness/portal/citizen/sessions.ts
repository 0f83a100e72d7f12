/**
 * Browser sessions of the city portal: a random token in a signed, HttpOnly, SameSite=Lax cookie
 * (Lax so that the IdP's redirect back, a top-level GET, still carries it), the session kept in
 * memory under the token's SHA-256, with its own CSRF token that every POST form carries as `_csrf`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PendingCode } from './codes.js';
import { CitizenError } from './errors.js';

export const kCitizenCookie = 'jpki_citizen_session';
export const kCsrfField = '_csrf';
const kIdleMs = 30 * 60_000;

/** Registration in progress: each step records what it verified. */
export interface Registration {
  agreed: boolean;
  phone?: string;
  phoneCode?: PendingCode;
  phoneVerified: boolean;
  email?: string;
  passwordHash?: string;
  nickname?: string;
  emailCode?: PendingCode;
  emailVerified: boolean;
}

/** A link through the IdP in progress (state, nonce and the PKCE verifier stay here). */
export interface PendingLink {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
}

export interface CitizenSession {
  id: string;
  csrfToken: string;
  accountId?: string;
  registration?: Registration;
  link?: PendingLink;
  /** A one-time notice for the next page (e.g. アカウント作成完了). */
  flash?: string;
  expiresAt: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    citizenSession: CitizenSession | null;
  }
}

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

export class CitizenSessions {
  private readonly _sessions = new Map<string, CitizenSession>();

  constructor(
    private readonly _now: () => Date,
    private readonly _secure: () => boolean,
  ) {}

  register(app: FastifyInstance): void {
    app.decorateRequest('citizenSession', null);
    app.addHook('onRequest', async (request) => {
      request.citizenSession = this._load(request);
    });
    app.addHook('preValidation', async (request) => {
      if (request.method !== 'POST') return;
      const session = request.citizenSession;
      const body = request.body as Record<string, unknown> | null | undefined;
      const presented = body && typeof body === 'object' && typeof body[kCsrfField] === 'string' ? (body[kCsrfField] as string) : undefined;
      if (!session) throw new CitizenError('CSRF_INVALID', 'no session');
      if (!presented) throw new CitizenError('CSRF_INVALID', `no ${kCsrfField} field`);
      const a = Buffer.from(presented);
      const b = Buffer.from(session.csrfToken);
      if (a.length !== b.length || !timingSafeEqual(a, b)) throw new CitizenError('CSRF_INVALID', 'the CSRF token does not match the session');
    });
  }

  ensure(request: FastifyRequest, reply: FastifyReply): CitizenSession {
    if (request.citizenSession) return request.citizenSession;
    const token = randomBytes(32).toString('base64url');
    const session: CitizenSession = { id: hashOf(token), csrfToken: randomBytes(24).toString('base64url'), expiresAt: this._now().getTime() + kIdleMs };
    this._sessions.set(session.id, session);
    reply.setCookie(kCitizenCookie, token, { signed: true, httpOnly: true, sameSite: 'lax', path: '/', secure: this._secure() });
    request.citizenSession = session;
    return session;
  }

  /** A new session id after login, so a session fixed before login is worth nothing after. */
  renew(request: FastifyRequest, reply: FastifyReply): CitizenSession {
    const old = request.citizenSession;
    if (old) this._sessions.delete(old.id);
    request.citizenSession = null;
    const session = this.ensure(request, reply);
    if (old) Object.assign(session, { flash: old.flash });
    return session;
  }

  end(request: FastifyRequest, reply: FastifyReply): void {
    if (request.citizenSession) this._sessions.delete(request.citizenSession.id);
    request.citizenSession = null;
    reply.clearCookie(kCitizenCookie, { path: '/' });
  }

  private _load(request: FastifyRequest): CitizenSession | null {
    const signed = request.cookies[kCitizenCookie];
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
