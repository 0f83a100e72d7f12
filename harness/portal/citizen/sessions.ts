/**
 * Browser sessions of the city portal: a random token in a signed, HttpOnly, SameSite=Lax cookie
 * (Lax so that the IdP's redirect back, a top-level GET, still carries it), the session kept in
 * memory under the token's SHA-256, with its own CSRF token that every POST form carries as `_csrf`.
 */
import { BrowserSessions, type BrowserSession } from '../shared/browser-sessions.js';
import type { PendingCode } from './codes.js';
import { CitizenError } from './errors.js';

export const kCitizenCookie = 'jpki_citizen_session';
export { kCsrfField } from '../shared/browser-sessions.js';

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

export interface CitizenSession extends BrowserSession {
  registration?: Registration;
  link?: PendingLink;
}

declare module 'fastify' {
  interface FastifyRequest {
    citizenSession: CitizenSession | null;
  }
}

export class CitizenSessions extends BrowserSessions<CitizenSession> {
  constructor(now: () => Date, secure: () => boolean) {
    super({ cookie: kCitizenCookie, requestProperty: 'citizenSession', now, secure, csrfError: (detail) => new CitizenError('CSRF_INVALID', detail) });
  }
}
