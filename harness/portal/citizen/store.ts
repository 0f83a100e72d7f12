/** The city portal's accounts and linked profiles over its database. */
import { randomUUID } from 'node:crypto';
import { AccountStore } from '../shared/accounts.js';

export { hashPassword } from '../shared/accounts.js';

export interface Account {
  id: string;
  phone: string;
  email: string;
  nickname: string;
  createdAt: string;
}

export interface Profile {
  issuer: string;
  subject: string;
  name: string;
  address: string;
  birthdate: string;
  gender: string;
  linkedAt: string;
}

export class CitizenStore extends AccountStore<Account> {
  createAccount(input: { phone: string; email: string; passwordHash: string; nickname: string }, now: Date): Account {
    const id = randomUUID();
    this._db
      .prepare('INSERT INTO accounts (id, phone, email, password_hash, nickname, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, input.phone, input.email, input.passwordHash, input.nickname, now.toISOString());
    return this.account(id)!;
  }

  override account(id: string): Account | undefined {
    const row = this._db.prepare('SELECT id, phone, email, nickname, created_at AS createdAt FROM accounts WHERE id = ?').get(id) as Account | undefined;
    return row;
  }

  profile(accountId: string): Profile | undefined {
    return this._db
      .prepare('SELECT issuer, subject, name, address, birthdate, gender, linked_at AS linkedAt FROM profiles WHERE account_id = ?')
      .get(accountId) as Profile | undefined;
  }

  /** The account a subject is linked to, if any. */
  accountOfSubject(issuer: string, subject: string): string | undefined {
    const row = this._db.prepare('SELECT account_id AS id FROM profiles WHERE issuer = ? AND subject = ?').get(issuer, subject) as { id: string } | undefined;
    return row?.id;
  }

  /** Creates the profile on first link; a later link refreshes the basic 4 (e.g. after a move). */
  saveProfile(accountId: string, profile: Profile): { created: boolean } {
    const existing = this.profile(accountId);
    this._db
      .prepare(
        `INSERT INTO profiles (account_id, issuer, subject, name, address, birthdate, gender, linked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id) DO UPDATE SET issuer = excluded.issuer, subject = excluded.subject, name = excluded.name,
           address = excluded.address, birthdate = excluded.birthdate, gender = excluded.gender, linked_at = excluded.linked_at`,
      )
      .run(accountId, profile.issuer, profile.subject, profile.name, profile.address, profile.birthdate, profile.gender, profile.linkedAt);
    return { created: existing === undefined };
  }
}
