/**
 * My Page's browser sessions: a random token in a signed, HttpOnly, SameSite=Lax cookie, the
 * session kept in memory under the token's SHA-256, with its own CSRF token that every POST form
 * carries as `_csrf`. The phone app's API (/api/xid/*) has no cookies and no CSRF: its credential is
 * the linking transaction's one-time token.
 */
import { BrowserSessions, type BrowserSession } from '../shared/browser-sessions.js';
import type { PendingCode } from './codes.js';
import { MyPageError } from './errors.js';

export const kMyPageCookie = 'jpki_mypage_session';
export { kCsrfField } from '../shared/browser-sessions.js';

/** Account creation in progress. */
export interface Signup {
  email?: string;
  passwordHash?: string;
  code?: PendingCode;
  emailVerified: boolean;
}

export interface MyPageSession extends BrowserSession {
  signup?: Signup;
}

declare module 'fastify' {
  interface FastifyRequest {
    myPageSession: MyPageSession | null;
  }
}

export class MyPageSessions extends BrowserSessions<MyPageSession> {
  constructor(now: () => Date, secure: () => boolean) {
    super({ cookie: kMyPageCookie, requestProperty: 'myPageSession', now, secure, csrfError: (detail) => new MyPageError('CSRF_INVALID', detail) });
  }
}
