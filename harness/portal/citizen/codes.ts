/**
 * The 6-digit codes of registration (SMS to the phone number, e-mail to the address): each lives 10
 * minutes and takes at most 5 wrong tries, after which it is spent and only a new code helps. Codes
 * are "sent" to an outbox that the harness reads (GET /api/test/outbox in test mode), the way a lab
 * reads an SMS gateway's or a mail catcher's log.
 */
import { randomInt } from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';
import { CitizenError } from './errors.js';

export const kCodeLifetimeMs = 10 * 60_000;
export const kCodeMaxTries = 5;

export type CodeChannel = 'sms' | 'email';

export interface OutboxMessage {
  channel: CodeChannel;
  to: string;
  code: string;
  text: string;
  sentAt: string;
}

/** A code as the session keeps it. */
export interface PendingCode {
  code: string;
  expiresAt: number;
  tries: number;
}

export class Outbox {
  readonly messages: OutboxMessage[] = [];

  send(channel: CodeChannel, to: string, code: string, now: Date): void {
    const text =
      channel === 'sms'
        ? `【のべおかポータル（テスト）】認証コード: ${code}（10分間有効）`
        : `のべおかポータル（テスト）のメールアドレス確認です。認証コード: ${code}（10分間有効）`;
    this.messages.push({ channel, to, code, text, sentAt: now.toISOString() });
  }
}

export function newCode(now: Date): PendingCode {
  return { code: randomInt(0, 1_000_000).toString().padStart(6, '0'), expiresAt: now.getTime() + kCodeLifetimeMs, tries: 0 };
}

/**
 * Checks a typed code against the pending one, counting the try; throws CODE_EXPIRED,
 * CODE_EXHAUSTED or CODE_WRONG (with the tries left). The pending code is updated in place.
 */
export function checkCode(pending: PendingCode | undefined, typed: string, now: Date): void {
  if (!pending) throw new CitizenError('STEP_OUT_OF_ORDER', 'no code was sent');
  if (pending.expiresAt <= now.getTime()) throw new CitizenError('CODE_EXPIRED', 'the code is older than 10 minutes');
  if (pending.tries >= kCodeMaxTries) throw new CitizenError('CODE_EXHAUSTED', `${kCodeMaxTries} wrong tries`);
  const ok = /^[0-9]{6}$/.test(typed) && timingSafeEqual(Buffer.from(typed), Buffer.from(pending.code));
  if (ok) return;
  pending.tries += 1;
  const left = kCodeMaxTries - pending.tries;
  if (left === 0) throw new CitizenError('CODE_EXHAUSTED', `${kCodeMaxTries} wrong tries`);
  throw new CitizenError('CODE_WRONG', `wrong code, ${left} tries left`, `あと${left}回入力できます。`);
}
