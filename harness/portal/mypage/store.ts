/** My Page's accounts, card links and post boxes over its database. */
import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import type { PersonIdentity } from '../store.js';
import type { MyPageDatabase } from './db.js';

export interface Account {
  id: string;
  email: string;
  nickname: string;
  createdAt: string;
}

export interface CardLink extends PersonIdentity {
  certificateKey: string;
  linkedAt: string;
}

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64url')}$${scryptSync(password, salt, 32).toString('base64url')}`;
}

function passwordMatches(password: string, stored: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  return timingSafeEqual(scryptSync(password, Buffer.from(salt, 'base64url'), expected.length), expected);
}

export class MyPageStore {
  constructor(private readonly _db: MyPageDatabase) {}

  emailTaken(email: string): boolean {
    return this._db.prepare('SELECT 1 FROM accounts WHERE email = ?').get(email) !== undefined;
  }

  createAccount(input: { email: string; passwordHash: string; nickname: string }, now: Date): Account {
    const id = randomUUID();
    this._db.prepare('INSERT INTO accounts (id, email, password_hash, nickname, created_at) VALUES (?, ?, ?, ?, ?)').run(id, input.email, input.passwordHash, input.nickname, now.toISOString());
    return this.account(id)!;
  }

  account(id: string): Account | undefined {
    return this._db.prepare('SELECT id, email, nickname, created_at AS createdAt FROM accounts WHERE id = ?').get(id) as Account | undefined;
  }

  login(email: string, password: string): Account | undefined {
    const row = this._db.prepare('SELECT id, password_hash AS hash FROM accounts WHERE email = ?').get(email) as { id: string; hash: string } | undefined;
    if (!row || !passwordMatches(password, row.hash)) return undefined;
    return this.account(row.id);
  }

  cardLink(accountId: string): CardLink | undefined {
    return this._db
      .prepare('SELECT certificate_key AS certificateKey, name, address, birth, sex, linked_at AS linkedAt FROM card_links WHERE account_id = ?')
      .get(accountId) as CardLink | undefined;
  }

  accountOfCertificate(certificateKey: string): string | undefined {
    const row = this._db.prepare('SELECT account_id AS id FROM card_links WHERE certificate_key = ?').get(certificateKey) as { id: string } | undefined;
    return row?.id;
  }

  /** Links the card to the account, replacing the account's earlier card (a renewed card). */
  saveCardLink(accountId: string, link: CardLink): void {
    this._db
      .prepare(
        `INSERT INTO card_links (account_id, certificate_key, name, address, birth, sex, linked_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id) DO UPDATE SET certificate_key = excluded.certificate_key, name = excluded.name, address = excluded.address,
           birth = excluded.birth, sex = excluded.sex, linked_at = excluded.linked_at`,
      )
      .run(accountId, link.certificateKey, link.name, link.address, link.birth, link.sex, link.linkedAt);
  }

  postBoxEnabledAt(accountId: string): string | undefined {
    const row = this._db.prepare('SELECT enabled_at AS at FROM post_boxes WHERE account_id = ?').get(accountId) as { at: string } | undefined;
    return row?.at;
  }

  enablePostBox(accountId: string, now: Date): void {
    this._db.prepare('INSERT INTO post_boxes (account_id, enabled_at) VALUES (?, ?) ON CONFLICT (account_id) DO NOTHING').run(accountId, now.toISOString());
  }
}
