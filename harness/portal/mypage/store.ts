/** My Page's accounts, card links and post boxes over its database. */
import { randomUUID } from 'node:crypto';
import { AccountStore } from '../shared/accounts.js';
import type { PersonIdentity } from '../shared/card-info.js';

export { hashPassword } from '../shared/accounts.js';

export interface Account {
  id: string;
  email: string;
  nickname: string;
  createdAt: string;
}

export interface CardLink extends PersonIdentity {
  certificateKey: string;
  /** The issuer's person id for the card's holder; null only with the trust-client-card-info flaw. */
  holder: string | null;
  linkedAt: string;
}

export class MyPageStore extends AccountStore<Account> {
  createAccount(input: { email: string; passwordHash: string; nickname: string }, now: Date): Account {
    const id = randomUUID();
    this._db.prepare('INSERT INTO accounts (id, email, password_hash, nickname, created_at) VALUES (?, ?, ?, ?, ?)').run(id, input.email, input.passwordHash, input.nickname, now.toISOString());
    return this.account(id)!;
  }

  override account(id: string): Account | undefined {
    return this._db.prepare('SELECT id, email, nickname, created_at AS createdAt FROM accounts WHERE id = ?').get(id) as Account | undefined;
  }

  cardLink(accountId: string): CardLink | undefined {
    return this._db
      .prepare('SELECT certificate_key AS certificateKey, holder, name, address, birth, sex, linked_at AS linkedAt FROM card_links WHERE account_id = ?')
      .get(accountId) as CardLink | undefined;
  }

  accountOfCertificate(certificateKey: string): string | undefined {
    const row = this._db.prepare('SELECT account_id AS id FROM card_links WHERE certificate_key = ?').get(certificateKey) as { id: string } | undefined;
    return row?.id;
  }

  /** The account whose card link belongs to the person the issuer calls `holder`. */
  accountOfHolder(holder: string): string | undefined {
    const row = this._db.prepare('SELECT account_id AS id FROM card_links WHERE holder = ?').get(holder) as { id: string } | undefined;
    return row?.id;
  }

  /** Links the card to the account, replacing the account's earlier card (a renewed card). */
  saveCardLink(accountId: string, link: CardLink): void {
    this._db
      .prepare(
        `INSERT INTO card_links (account_id, certificate_key, holder, name, address, birth, sex, linked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id) DO UPDATE SET certificate_key = excluded.certificate_key, holder = excluded.holder, name = excluded.name,
           address = excluded.address, birth = excluded.birth, sex = excluded.sex, linked_at = excluded.linked_at`,
      )
      .run(accountId, link.certificateKey, link.holder, link.name, link.address, link.birth, link.sex, link.linkedAt);
  }

  postBoxEnabledAt(accountId: string): string | undefined {
    const row = this._db.prepare('SELECT enabled_at AS at FROM post_boxes WHERE account_id = ?').get(accountId) as { at: string } | undefined;
    return row?.at;
  }

  enablePostBox(accountId: string, now: Date): void {
    this._db.prepare('INSERT INTO post_boxes (account_id, enabled_at) VALUES (?, ?) ON CONFLICT (account_id) DO NOTHING').run(accountId, now.toISOString());
  }
}
