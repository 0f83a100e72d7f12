/**
 * The 6-digit codes of registration (SMS to the phone number, e-mail to the address), with the
 * lifetime and tries of ../shared/codes.ts. Codes are "sent" to an outbox that the harness reads
 * (GET /api/test/outbox in test mode), the way a lab reads an SMS gateway's or a mail catcher's log.
 */
import { CodeOutbox, type CodeGuard, type SentCode, type PendingCode } from '../shared/codes.js';
import { CitizenError } from './errors.js';

export { kCodeLifetimeMs, kCodeMaxTries, newCode, type PendingCode } from '../shared/codes.js';

export type CodeChannel = 'sms' | 'email';

export type OutboxMessage = SentCode<CodeChannel>;

export class Outbox extends CodeOutbox<CodeChannel> {
  send(channel: CodeChannel, to: string, code: string, now: Date): void {
    const text =
      channel === 'sms'
        ? `【のべおかポータル（テスト）】認証コード: ${code}（10分間有効）`
        : `のべおかポータル（テスト）のメールアドレス確認です。認証コード: ${code}（10分間有効）`;
    this._record(channel, to, code, text, now);
  }
}

/** Checks a typed code against the pending one sent to `to` (CodeGuard.check); STEP_OUT_OF_ORDER when none was sent. */
export function checkCode(guard: CodeGuard, to: string, pending: PendingCode | undefined, typed: string): void {
  if (!pending) throw new CitizenError('STEP_OUT_OF_ORDER', 'no code was sent');
  guard.check(to, pending, typed);
}
