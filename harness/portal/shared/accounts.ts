/**
 * The accounts table of the small portals (city portal, My Page): an account per e-mail address,
 * its password kept only as a salted scrypt hash with its parameters,
 * `scrypt$N=131072,r=8,p=1$<salt>$<hash>` (base64url) — OWASP's current guidance for scrypt
 * (N=2^17, r=8, p=1). Hashes of the earlier form `scrypt$<salt>$<hash>` (Node's defaults, N=2^14)
 * still verify. A login for an unknown address verifies against a dummy hash of the same cost, so
 * the answer takes as long as for a known one and does not tell which addresses have accounts.
 * Each portal adds its own columns and tables.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type Database from 'better-sqlite3';

export interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

/** OWASP Password Storage Cheat Sheet: scrypt with N=2^17, r=8, p=1. */
export const kScryptParameters: ScryptParameters = { N: 2 ** 17, r: 8, p: 1 };
/** What `scrypt$<salt>$<hash>` hashes were made with (Node's defaults). */
const kLegacyParameters: ScryptParameters = { N: 2 ** 14, r: 8, p: 1 };
const kKeyLength = 32;

/** Every scrypt computation of this process, for tests that check which path a login took (never its time). */
export const kPasswordHashing = { calls: 0 };

function derive(password: string, salt: Buffer, parameters: ScryptParameters, length: number): Promise<Buffer> {
  kPasswordHashing.calls += 1;
  // scrypt needs 128·N·r bytes; Node refuses more than 32 MiB unless told.
  const options: ScryptOptions = { ...parameters, maxmem: 256 * parameters.N * parameters.r };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string, parameters: ScryptParameters = kScryptParameters): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, parameters, kKeyLength);
  return `scrypt$N=${parameters.N},r=${parameters.r},p=${parameters.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** The parameters, salt and hash of a stored hash; undefined for anything else. */
function parseHash(stored: string): { parameters: ScryptParameters; salt: Buffer; hash: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts[0] !== 'scrypt') return undefined;
  if (parts.length === 3 && parts[1] && parts[2]) return { parameters: kLegacyParameters, salt: Buffer.from(parts[1], 'base64url'), hash: Buffer.from(parts[2], 'base64url') };
  const match = parts.length === 4 ? /^N=(\d+),r=(\d+),p=(\d+)$/.exec(parts[1] ?? '') : null;
  if (!match || !parts[2] || !parts[3]) return undefined;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // Only sane parameters: a tampered row must not make the portal allocate gigabytes.
  if (!(N >= 2 ** 10 && N <= 2 ** 20 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return undefined;
  return { parameters: { N, r, p }, salt: Buffer.from(parts[2], 'base64url'), hash: Buffer.from(parts[3], 'base64url') };
}

export async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed || parsed.hash.length === 0) return false;
  const key = await derive(password, parsed.salt, parsed.parameters, parsed.hash.length);
  return timingSafeEqual(key, parsed.hash);
}

let dummyHash: Promise<string> | undefined;

/** A hash of a random password at the current cost, made once: what unknown addresses are checked against. */
function dummy(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('base64url'));
  return dummyHash;
}

export abstract class AccountStore<A> {
  constructor(protected readonly _db: Database.Database) {}

  emailTaken(email: string): boolean {
    return this._db.prepare('SELECT 1 FROM accounts WHERE email = ?').get(email) !== undefined;
  }

  abstract account(id: string): A | undefined;

  /** The account whose e-mail and password these are; the same scrypt work whether or not the address has one. */
  async login(email: string, password: string): Promise<A | undefined> {
    const row = this._db.prepare('SELECT id, password_hash AS hash FROM accounts WHERE email = ?').get(email) as { id: string; hash: string } | undefined;
    if (!row) {
      await passwordMatches(password, await dummy());
      return undefined;
    }
    return (await passwordMatches(password, row.hash)) ? this.account(row.id) : undefined;
  }
}
