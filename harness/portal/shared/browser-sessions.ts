/**
 * Browser sessions for the small portals (city portal, My Page): a random token in a signed,
 * HttpOnly, SameSite=Lax cookie (Lax so that an identity provider's redirect back, a top-level GET,
 * still carries it), the session kept in memory under the token's SHA-256, and a CSRF token per
 * session that every POST form carries as `_csrf`. Each portal names its cookie, the request
 * property the session hangs on, and the error it refuses a bad CSRF token with.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export const kCsrfField = '_csrf';
const kIdleMs = 30 * 60_000;
/** Sessions kept in memory at most; past it the longest-idle sessions nobody is logged in to make room. */
export const kMaxBrowserSessions = 20_000;

export interface BrowserSession {
  id: string;
  csrfToken: string;
  accountId?: string;
  /** A one-time notice for the next page (e.g. アカウント作成完了). */
  flash?: string;
  expiresAt: number;
}

export interface BrowserSessionOptions {
  cookie: string;
  /** The FastifyRequest property the session is put on (declared by the portal). */
  requestProperty: string;
  now: () => Date;
  secure: () => boolean;
  csrfError: (detail: string) => Error;
}

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

export class BrowserSessions<S extends BrowserSession> {
  private readonly _sessions = new Map<string, S>();
  private _lastPurge = 0;

  constructor(private readonly _options: BrowserSessionOptions) {}

  get size(): number {
    return this._sessions.size;
  }

  /** Drops expired sessions; then, over the cap, the longest-idle anonymous ones (the map is in order of last use). */
  private _makeRoom(now: number): void {
    if (now - this._lastPurge > 60_000 || this._sessions.size >= kMaxBrowserSessions) {
      this._lastPurge = now;
      for (const [id, session] of this._sessions) if (session.expiresAt <= now) this._sessions.delete(id);
    }
    for (const [id, session] of this._sessions) {
      if (this._sessions.size < kMaxBrowserSessions) break;
      if (session.accountId === undefined) this._sessions.delete(id);
    }
  }

  /** The session of this request, if it has one. */
  of(request: FastifyRequest): S | null {
    return ((request as unknown as Record<string, S | null>)[this._options.requestProperty] ?? null) as S | null;
  }

  private _set(request: FastifyRequest, session: S | null): void {
    (request as unknown as Record<string, S | null>)[this._options.requestProperty] = session;
  }

  register(app: FastifyInstance): void {
    app.decorateRequest(this._options.requestProperty, null);
    app.addHook('onRequest', async (request) => {
      this._set(request, this._load(request));
    });
    app.addHook('preValidation', async (request) => {
      if (request.method !== 'POST') return;
      const session = this.of(request);
      const body = request.body as Record<string, unknown> | null | undefined;
      const presented = body && typeof body === 'object' && typeof body[kCsrfField] === 'string' ? (body[kCsrfField] as string) : undefined;
      if (!session) throw this._options.csrfError('no session');
      if (!presented) throw this._options.csrfError(`no ${kCsrfField} field`);
      const a = Buffer.from(presented);
      const b = Buffer.from(session.csrfToken);
      if (a.length !== b.length || !timingSafeEqual(a, b)) throw this._options.csrfError('the CSRF token does not match the session');
    });
  }

  ensure(request: FastifyRequest, reply: FastifyReply): S {
    const existing = this.of(request);
    if (existing) return existing;
    this._makeRoom(this._options.now().getTime());
    const token = randomBytes(32).toString('base64url');
    const session = { id: hashOf(token), csrfToken: randomBytes(24).toString('base64url'), expiresAt: this._options.now().getTime() + kIdleMs } as S;
    this._sessions.set(session.id, session);
    reply.setCookie(this._options.cookie, token, { signed: true, httpOnly: true, sameSite: 'lax', path: '/', secure: this._options.secure() });
    this._set(request, session);
    return session;
  }

  /** A new session id after login, so that a session fixed before login is worth nothing after; the flash survives. */
  renew(request: FastifyRequest, reply: FastifyReply): S {
    const old = this.of(request);
    if (old) this._sessions.delete(old.id);
    this._set(request, null);
    const session = this.ensure(request, reply);
    if (old?.flash !== undefined) session.flash = old.flash;
    return session;
  }

  end(request: FastifyRequest, reply: FastifyReply): void {
    const session = this.of(request);
    if (session) this._sessions.delete(session.id);
    this._set(request, null);
    reply.clearCookie(this._options.cookie, { path: '/' });
  }

  private _load(request: FastifyRequest): S | null {
    const signed = request.cookies[this._options.cookie];
    if (!signed) return null;
    const unsigned = request.unsignCookie(signed);
    if (!unsigned.valid || !unsigned.value) return null;
    const session = this._sessions.get(hashOf(unsigned.value));
    if (!session) return null;
    const now = this._options.now().getTime();
    if (session.expiresAt <= now) {
      this._sessions.delete(session.id);
      return null;
    }
    session.expiresAt = now + kIdleMs;
    // Last used goes last, so the map stays in order of idleness.
    this._sessions.delete(session.id);
    this._sessions.set(session.id, session);
    return session;
  }
}

export interface BrowserSessionsPluginOptions {
  /** The portal's sessions: the hooks that load a request's session and check its CSRF token. */
  sessions: { register(app: FastifyInstance): void };
}

/** The sessions in the scope that registers this plugin (the portal's browser pages), nowhere else. */
export const browserSessionsPlugin = fp(async (app: FastifyInstance, options: BrowserSessionsPluginOptions) => {
  options.sessions.register(app);
}, { name: 'browser-sessions' });
