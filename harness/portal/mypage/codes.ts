/**
 * The 6-digit e-mail confirmation code of account creation, with the lifetime and tries of
 * ../shared/codes.ts. Codes are "sent" to an outbox that the harness reads (GET /api/test/outbox in
 * test mode), the way a lab reads a mail catcher's log.
 */
import { CodeGuard, CodeOutbox, kCodeLimits, kNoCodeLimits, type SentCode } from '../shared/codes.js';
import { MyPageError } from './errors.js';

export { kCodeLifetimeMs, kCodeMaxTries, newCode, type PendingCode } from '../shared/codes.js';

/** My Page's send and try limits (../shared/codes.ts), refusing with its own codes. */
export function myPageCodeGuard(now: () => Date, unlimited = false): CodeGuard {
  return new CodeGuard(now, MyPageError, unlimited ? kNoCodeLimits : kCodeLimits);
}

export type OutboxMessage = SentCode<'email'>;

export class Outbox extends CodeOutbox<'email'> {
  send(to: string, code: string, now: Date): void {
    this._record('email', to, code, `SENDAIポータル（テスト）のアカウント作成の確認コード: ${code}（10分間有効）`, now);
  }
}

