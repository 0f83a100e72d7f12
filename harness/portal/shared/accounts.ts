/**
 * The accounts table of the small portals (city portal, My Page): an account per e-mail address,
 * its password kept only as a salted scrypt hash (`scrypt$<salt>$<hash>`, base64url). Each portal
 * adds its own columns and tables.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';

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

export abstract class AccountStore<A> {
  constructor(protected readonly _db: Database.Database) {}

  emailTaken(email: string): boolean {
    return this._db.prepare('SELECT 1 FROM accounts WHERE email = ?').get(email) !== undefined;
  }

  abstract account(id: string): A | undefined;

  /** The account whose e-mail and password these are. */
  login(email: string, password: string): A | undefined {
    const row = this._db.prepare('SELECT id, password_hash AS hash FROM accounts WHERE email = ?').get(email) as { id: string; hash: string } | undefined;
    if (!row || !passwordMatches(password, row.hash)) return undefined;
    return this.account(row.id);
  }
}
