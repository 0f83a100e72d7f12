/**
 * The city portal's SQLite database and its numbered migrations, in the portal's pattern (../db.ts):
 * each migration applied once, in one transaction with its row in `schema_migrations`; new tables
 * go in a new migration at the end; an applied migration is never edited.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type CitizenDatabase = Database.Database;

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const kCitizenMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts and linked profiles',
    sql: `
      CREATE TABLE accounts (
        id            TEXT PRIMARY KEY,
        phone         TEXT NOT NULL,
        email         TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL, -- scrypt$<salt>$<hash>, base64url
        nickname      TEXT NOT NULL,
        created_at    TEXT NOT NULL
      );
      -- The city ID linked through the IdP: one per account, one account per IdP subject.
      CREATE TABLE profiles (
        account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
        issuer     TEXT NOT NULL,
        subject    TEXT NOT NULL,
        name       TEXT NOT NULL,
        address    TEXT NOT NULL,
        birthdate  TEXT NOT NULL,
        gender     TEXT NOT NULL,
        linked_at  TEXT NOT NULL,
        UNIQUE (issuer, subject)
      );
    `,
  },
];

export function openCitizenDatabase(path: string): CitizenDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const migration of kCitizenMigrations) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, new Date().toISOString());
    })();
  }
  return db;
}
