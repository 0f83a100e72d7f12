/**
 * The city portal's SQLite database and its numbered migrations, in the portal's pattern (../db.ts):
 * each migration applied once, in one transaction with its row in `schema_migrations`; new tables
 * go in a new migration at the end; an applied migration is never edited.
 */
import type Database from 'better-sqlite3';
import { openMigratedDatabase, type Migration } from '../shared/sqlite.js';

export type CitizenDatabase = Database.Database;

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
  return openMigratedDatabase(path, kCitizenMigrations);
}
