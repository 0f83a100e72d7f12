/** What the city portal's route plugins share. */
import type { CodeGuard } from '../shared/codes.js';
import type { LoginThrottle } from '../shared/login-throttle.js';
import type { Outbox } from './codes.js';
import type { OidcClient } from './oidc-client.js';
import type { CitizenSessions } from './sessions.js';
import type { CitizenStore } from './store.js';

export interface CitizenContext {
  store: CitizenStore;
  sessions: CitizenSessions;
  outbox: Outbox;
  /** Send and try limits of the SMS and e-mail codes. */
  codes: CodeGuard;
  /** Failed password logins per account and per client address. */
  logins: LoginThrottle;
  oidc: OidcClient;
  /** The portal's own URL as browsers reach it (the redirect URI is `<publicUrl>/link/callback`). */
  publicUrl: () => string;
  now: () => Date;
  testMode: boolean;
}

export const kCallbackPath = '/link/callback';

export function redirectUriOf(ctx: CitizenContext): string {
  return `${ctx.publicUrl()}${kCallbackPath}`;
}
