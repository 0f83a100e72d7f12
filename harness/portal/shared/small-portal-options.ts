/** The options the two small portals (city portal, My Page) take alike, and what guards their accounts. */
import { CodeGuard, kCodeLimits, kNoCodeLimits, type CodeErrorClass } from './codes.js';
import { LoginThrottle, type LoginLockedErrorClass } from './login-throttle.js';

export interface SmallPortalOptions {
  /** The portal's URL as browsers (and phones) reach it; a function when known only after listening. */
  publicUrl: string | (() => string);
  /** SQLite file path, or ':memory:' (default). */
  db?: string;
  /** Signs the session cookie; random when absent. */
  cookieSecret?: string;
  /** The clock behind code expiry, sessions and the portal's own checks. */
  now?: () => Date;
  /** Turns on GET /api/test/outbox and error details on the error page. */
  testMode?: boolean;
  /** Deliberate flaws, for proving that a negative scenario catches them (never for a real run). */
  defects?: SmallPortalDefects;
  logger?: boolean;
}

export interface SmallPortalDefects {
  /** SMS and e-mail codes resent at will, each with 5 fresh tries, no lockout: the code can be brute-forced. */
  unlimitedCodes?: boolean;
  /** No throttling of password logins. */
  unlimitedPasswordTries?: boolean;
}

/** The codes' send and try limits and the password logins' throttle, unless the defects lift them. */
export function accountGuards(now: () => Date, errorClass: CodeErrorClass & LoginLockedErrorClass, defects: SmallPortalDefects = {}): { codes: CodeGuard; logins: LoginThrottle } {
  return {
    codes: new CodeGuard(now, errorClass, defects.unlimitedCodes ? kNoCodeLimits : kCodeLimits),
    logins: new LoginThrottle(now, errorClass, defects.unlimitedPasswordTries ? false : undefined),
  };
}
