/**
 * The 6-digit e-mail confirmation code of account creation: it lives 10 minutes and takes at most
 * 5 wrong tries. Codes are "sent" to an outbox that the harness reads (GET /api/test/outbox in test
 * mode), the way a lab reads a mail catcher's log.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import { MyPageError } from './errors.js';

export const kCodeLifetimeMs = 10 * 60_000;
export const kCodeMaxTries = 5;

export interface OutboxMessage {
  channel: 'email';
  to: string;
  code: string;
  text: string;
  sentAt: string;
}

export interface PendingCode {
  code: string;
  expiresAt: number;
  tries: number;
}

export class Outbox {
  readonly messages: OutboxMessage[] = [];

  send(to: string, code: string, now: Date): void {
    this.messages.push({ channel: 'email', to, code, text: `SENDAIポータル（テスト）のアカウント作成の確認コード: ${code}（10分間有効）`, sentAt: now.toISOString() });
  }
}

export function newCode(now: Date): PendingCode {
  return { code: randomInt(0, 1_000_000).toString().padStart(6, '0'), expiresAt: now.getTime() + kCodeLifetimeMs, tries: 0 };
}

/** Checks a typed code, counting the try; throws CODE_EXPIRED, CODE_EXHAUSTED or CODE_WRONG. */
export function checkCode(pending: PendingCode, typed: string, now: Date): void {
  if (pending.expiresAt <= now.getTime()) throw new MyPageError('CODE_EXPIRED', 'the code is older than 10 minutes');
  if (pending.tries >= kCodeMaxTries) throw new MyPageError('CODE_EXHAUSTED', `${kCodeMaxTries} wrong tries`);
  if (/^[0-9]{6}$/.test(typed) && timingSafeEqual(Buffer.from(typed), Buffer.from(pending.code))) return;
  pending.tries += 1;
  const left = kCodeMaxTries - pending.tries;
  if (left === 0) throw new MyPageError('CODE_EXHAUSTED', `${kCodeMaxTries} wrong tries`);
  throw new MyPageError('CODE_WRONG', `wrong code, ${left} tries left`, `あと${left}回入力できます。`);
}
