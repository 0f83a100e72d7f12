/**
 * Throttling of the small portals' password logins: failed logins are counted per account (the
 * e-mail address as typed, whether or not it has an account, so the lockout tells nothing either)
 * and per client address over a sliding 15 minutes. The 5th failure for one address locks it, the
 * 20th from one client address locks that client, until the oldest counted failure is 15 minutes
 * old; while locked even the right password is refused, without hashing anything. A successful
 * login clears its account's count.
 */
export interface LoginThrottleLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
}

export const kLoginThrottleLimits: LoginThrottleLimits = { perAccount: 5, perAddress: 20, windowMs: 15 * 60_000 };

/** The portal's error class for a locked login. */
export type LoginLockedErrorClass = new (code: 'LOGIN_LOCKED', detail: string, note?: string) => Error;

export class LoginThrottle {
  private readonly _failures = new Map<string, number[]>();
  private _lastPurge = 0;

  constructor(
    private readonly _now: () => Date,
    private readonly _error: LoginLockedErrorClass,
    /** false: no throttling at all (the `unlimitedPasswordTries` defect). */
    private readonly _limits: LoginThrottleLimits | false = kLoginThrottleLimits,
  ) {}

  private _recent(key: string, now: number, windowMs: number): number[] {
    const times = (this._failures.get(key) ?? []).filter((t) => t > now - windowMs);
    if (times.length === 0) this._failures.delete(key);
    else this._failures.set(key, times);
    return times;
  }

  /** Refuses (LOGIN_LOCKED) a login for `email` from `client` while either is locked. */
  check(email: string, client: string): void {
    if (!this._limits) return;
    const now = this._now().getTime();
    if (now - this._lastPurge > 60_000) this._purge(now, this._limits.windowMs);
    const account = this._recent(`account:${email.toLowerCase()}`, now, this._limits.windowMs);
    const address = this._recent(`client:${client}`, now, this._limits.windowMs);
    const locked = account.length >= this._limits.perAccount ? account : address.length >= this._limits.perAddress ? address : undefined;
    if (locked) {
      const minutes = Math.max(1, Math.ceil((locked[0]! + this._limits.windowMs - now) / 60_000));
      throw new this._error('LOGIN_LOCKED', `${locked === account ? 'the account' : 'this client'} has ${locked.length} failed logins within ${this._limits.windowMs / 60_000} minutes`, `（あと${minutes}分）`);
    }
  }

  failed(email: string, client: string): void {
    if (!this._limits) return;
    const now = this._now().getTime();
    for (const key of [`account:${email.toLowerCase()}`, `client:${client}`]) this._failures.set(key, [...(this._failures.get(key) ?? []), now]);
  }

  succeeded(email: string): void {
    this._failures.delete(`account:${email.toLowerCase()}`);
  }

  /**
   * One password login: refused while locked, then `login` asked; no account is a failure counted
   * and `refused()` thrown, an account clears its count and is returned.
   */
  async attempt<A>(email: string, client: string, login: () => Promise<A | undefined>, refused: () => Error): Promise<A> {
    this.check(email, client);
    const account = await login();
    if (account === undefined) {
      this.failed(email, client);
      throw refused();
    }
    this.succeeded(email);
    return account;
  }

  private _purge(now: number, windowMs: number): void {
    this._lastPurge = now;
    for (const key of [...this._failures.keys()]) this._recent(key, now, windowMs);
  }
}
