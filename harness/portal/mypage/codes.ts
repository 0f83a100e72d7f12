/**
 * The 6-digit e-mail confirmation code of account creation, with the lifetime and tries of
 * ../shared/codes.ts. Codes are "sent" to an outbox that the harness reads (GET /api/test/outbox in
 * test mode), the way a lab reads a mail catcher's log.
 */
import { CodeOutbox, type SentCode } from '../shared/codes.js';

export { kCodeLifetimeMs, kCodeMaxTries, newCode, type PendingCode } from '../shared/codes.js';

export type OutboxMessage = SentCode<'email'>;

export class Outbox extends CodeOutbox<'email'> {
  send(to: string, code: string, now: Date): void {
    this._record('email', to, code, `SENDAIポータル（テスト）のアカウント作成の確認コード: ${code}（10分間有効）`, now);
  }
}

