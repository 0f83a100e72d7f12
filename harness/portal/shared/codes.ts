/**
 * The 6-digit codes the small portals send while an account is created: each lives 10 minutes and
 * takes at most 5 wrong tries, after which it is spent and only a new code helps. Codes are "sent"
 * to an outbox that the harness reads; each portal words its own messages and refuses with its own
 * error class.
 *
 * What keeps a code from being guessed or a phone from being flooded (`CodeGuard`): each further
 * code to the same number or address waits twice as long as the one before (30 s, 60 s, 120 s, …),
 * one number or address gets at most 5 codes an hour and one browser session 10; the wrong tries
 * at one number or address count across every code sent to it, and the 10th within the hour locks
 * it for an hour — codes to it are neither sent nor checked until then.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';

export const kCodeLifetimeMs = 10 * 60_000;
export const kCodeMaxTries = 5;

/** A code as the session keeps it. */
export interface PendingCode {
  code: string;
  expiresAt: number;
  tries: number;
}

/** A code as "sent", for the harness to read back. */
export interface SentCode<C extends string> {
  channel: C;
  to: string;
  code: string;
  text: string;
  sentAt: string;
}

/** Where a portal "sends" its codes; each portal words its own messages. */
export class CodeOutbox<C extends string> {
  readonly messages: SentCode<C>[] = [];

  protected _record(channel: C, to: string, code: string, text: string, now: Date): void {
    this.messages.push({ channel, to, code, text, sentAt: now.toISOString() });
  }
}

/** The portal's error class for a refused code; the note (the tries left) follows its message. */
export type CodeErrorClass = new (
  code: 'CODE_EXPIRED' | 'CODE_EXHAUSTED' | 'CODE_WRONG' | 'CODE_RESEND_TOO_SOON' | 'CODE_SEND_LIMIT' | 'CODE_LOCKED',
  detail: string,
  note?: string,
) => Error;

export interface CodeLimits {
  /** The wait before the second code to one target; each further code waits twice the one before. */
  resendBackoffMs: number;
  /** Codes one target (phone number, e-mail address) gets per window. */
  sendsPerTarget: number;
  /** Codes one browser session sends per window. */
  sendsPerSession: number;
  /** Wrong tries at one target per window, over all its codes, before it is locked. */
  wrongTriesPerTarget: number;
  windowMs: number;
  lockoutMs: number;
}

export const kCodeLimits: CodeLimits = {
  resendBackoffMs: 30_000,
  sendsPerTarget: 5,
  sendsPerSession: 10,
  wrongTriesPerTarget: 10,
  windowMs: 60 * 60_000,
  lockoutMs: 60 * 60_000,
};

/** What a portal with the `unlimitedCodes` defect does: every code 5 fresh tries, resent at will (the brute-force flaw). */
export const kNoCodeLimits: CodeLimits = {
  resendBackoffMs: 0,
  sendsPerTarget: Number.POSITIVE_INFINITY,
  sendsPerSession: Number.POSITIVE_INFINITY,
  wrongTriesPerTarget: Number.POSITIVE_INFINITY,
  windowMs: 60 * 60_000,
  lockoutMs: 0,
};

interface TargetRecord {
  /** Send times within the window, oldest first. */
  sends: number[];
  /** Wrong-try times within the window. */
  wrong: number[];
  lockedUntil: number;
}

/**
 * Send and try limits of one portal's codes, per target and per browser session, kept in memory
 * (a restart forgets them, as it forgets the sessions whose codes they count).
 */
export class CodeGuard {
  private readonly _targets = new Map<string, TargetRecord>();
  private readonly _sessions = new Map<string, number[]>();
  private _lastPurge = 0;

  constructor(
    private readonly _now: () => Date,
    private readonly _error: CodeErrorClass,
    private readonly _limits: CodeLimits = kCodeLimits,
  ) {}

  private _recent(times: number[], now: number): number[] {
    return times.filter((t) => t > now - this._limits.windowMs);
  }

  private _target(target: string, now: number): TargetRecord {
    const record = this._targets.get(target) ?? { sends: [], wrong: [], lockedUntil: 0 };
    record.sends = this._recent(record.sends, now);
    record.wrong = this._recent(record.wrong, now);
    this._targets.set(target, record);
    return record;
  }

  private _refuseLocked(target: string, record: TargetRecord, now: number): void {
    if (record.lockedUntil > now) {
      const minutes = Math.ceil((record.lockedUntil - now) / 60_000);
      throw new this._error('CODE_LOCKED', `${target} is locked for ${minutes} more minutes after ${this._limits.wrongTriesPerTarget} wrong tries`, `（あと${minutes}分）`);
    }
  }

  /** Records a code about to be sent to `target` from `sessionId`, or refuses it (too soon, too many, locked). */
  send(target: string, sessionId: string): void {
    const now = this._now().getTime();
    if (now - this._lastPurge > 60_000) this.purge(now);
    const record = this._target(target, now);
    this._refuseLocked(target, record, now);
    const session = this._recent(this._sessions.get(sessionId) ?? [], now);
    if (record.sends.length >= this._limits.sendsPerTarget) throw new this._error('CODE_SEND_LIMIT', `${this._limits.sendsPerTarget} codes were sent to ${target} within the hour`);
    if (session.length >= this._limits.sendsPerSession) throw new this._error('CODE_SEND_LIMIT', `this session sent ${this._limits.sendsPerSession} codes within the hour`);
    const last = record.sends.at(-1);
    if (last !== undefined) {
      const wait = this._limits.resendBackoffMs * 2 ** (record.sends.length - 1);
      const left = last + wait - now;
      if (left > 0) {
        const seconds = Math.ceil(left / 1000);
        throw new this._error('CODE_RESEND_TOO_SOON', `the next code to ${target} may be sent in ${seconds} s`, `（あと${seconds}秒）`);
      }
    }
    record.sends.push(now);
    session.push(now);
    this._sessions.set(sessionId, session);
  }

  /** Checks `typed` against the pending code of `target` (see checkPendingCode), counting a wrong try at the target. */
  check(target: string, pending: PendingCode, typed: string): void {
    const now = this._now().getTime();
    const record = this._target(target, now);
    this._refuseLocked(target, record, now);
    const before = pending.tries;
    try {
      checkPendingCode(pending, typed, this._now(), this._error);
    } catch (e) {
      if (pending.tries > before) {
        record.wrong.push(now);
        if (record.wrong.length >= this._limits.wrongTriesPerTarget) {
          record.lockedUntil = now + this._limits.lockoutMs;
          this._refuseLocked(target, record, now);
        }
      }
      throw e;
    }
  }

  /** Forgets what no longer counts, so the maps stay as small as the last hour's traffic. */
  purge(now = this._now().getTime()): void {
    this._lastPurge = now;
    for (const [target, record] of this._targets) {
      if (record.lockedUntil <= now && record.sends.every((t) => t <= now - this._limits.windowMs) && record.wrong.every((t) => t <= now - this._limits.windowMs)) {
        this._targets.delete(target);
      }
    }
    for (const [id, times] of this._sessions) if (times.every((t) => t <= now - this._limits.windowMs)) this._sessions.delete(id);
  }
}

export function newCode(now: Date): PendingCode {
  return { code: randomInt(0, 1_000_000).toString().padStart(6, '0'), expiresAt: now.getTime() + kCodeLifetimeMs, tries: 0 };
}

/**
 * Checks a typed code against the pending one, counting the try; throws CODE_EXPIRED,
 * CODE_EXHAUSTED or CODE_WRONG (with the tries left). The pending code is updated in place.
 */
export function checkPendingCode(pending: PendingCode, typed: string, now: Date, error: CodeErrorClass): void {
  if (pending.expiresAt <= now.getTime()) throw new error('CODE_EXPIRED', 'the code is older than 10 minutes');
  if (pending.tries >= kCodeMaxTries) throw new error('CODE_EXHAUSTED', `${kCodeMaxTries} wrong tries`);
  if (/^[0-9]{6}$/.test(typed) && timingSafeEqual(Buffer.from(typed), Buffer.from(pending.code))) return;
  pending.tries += 1;
  const left = kCodeMaxTries - pending.tries;
  if (left === 0) throw new error('CODE_EXHAUSTED', `${kCodeMaxTries} wrong tries`);
  throw new error('CODE_WRONG', `wrong code, ${left} tries left`, `あと${left}回入力できます。`);
}
