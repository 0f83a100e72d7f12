/** The city portal's accounts and linked profiles over its database. */
import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import type { CitizenDatabase } from './db.js';

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

export class CitizenStore {
  constructor(private readonly _db: CitizenDatabase) {}

  emailTaken(email: string): boolean {
    return this._db.prepare('SELECT 1 FROM accounts WHERE email = ?').get(email) !== undefined;
  }

  createAccount(input: { phone: string; email: string; passwordHash: string; nickname: string }, now: Date): Account {
    const id = randomUUID();
    this._db
      .prepare('INSERT INTO accounts (id, phone, email, password_hash, nickname, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, input.phone, input.email, input.passwordHash, input.nickname, now.toISOString());
    return this.account(id)!;
  }

  account(id: string): Account | undefined {
    const row = this._db.prepare('SELECT id, phone, email, nickname, created_at AS createdAt FROM accounts WHERE id = ?').get(id) as Account | undefined;
    return row;
  }

  /** The account whose e-mail and password these are. */
  login(email: string, password: string): Account | undefined {
    const row = this._db.prepare('SELECT id, password_hash AS hash FROM accounts WHERE email = ?').get(email) as { id: string; hash: string } | undefined;
    if (!row || !passwordMatches(password, row.hash)) return undefined;
    return this.account(row.id);
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
