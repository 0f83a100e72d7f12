/**
 * The 6-digit codes the small portals send while an account is created: each lives 10 minutes and
 * takes at most 5 wrong tries, after which it is spent and only a new code helps. Codes are "sent"
 * to an outbox that the harness reads; each portal words its own messages and refuses with its own
 * error class.
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
export type CodeErrorClass = new (code: 'CODE_EXPIRED' | 'CODE_EXHAUSTED' | 'CODE_WRONG', detail: string, note?: string) => Error;

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
