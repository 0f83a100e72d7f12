/**
 * My Page's SQLite database and its numbered migrations, in the portal's pattern (../db.ts): each
 * migration applied once, in one transaction with its row in `schema_migrations`; new tables go in
 * a new migration at the end; an applied migration is never edited.
 */
import type Database from 'better-sqlite3';
import { openMigratedDatabase, type Migration } from '../shared/sqlite.js';

export type MyPageDatabase = Database.Database;

export const kMyPageMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts',
    sql: `
      CREATE TABLE accounts (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL, -- scrypt$<salt>$<hash>, base64url
        nickname      TEXT NOT NULL,
        created_at    TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'card links and the digital post box',
    sql: `
      -- One card per account and one account per card: the card is known by its authentication
      -- certificate (issuer and serial), the person by the basic 4 the card-info AP signed.
      CREATE TABLE card_links (
        account_id      TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
        certificate_key TEXT NOT NULL UNIQUE,
        name            TEXT NOT NULL,
        address         TEXT NOT NULL,
        birth           TEXT NOT NULL,
        sex             TEXT NOT NULL,
        linked_at       TEXT NOT NULL
      );
      CREATE TABLE post_boxes (
        account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
        enabled_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'card links keyed by the person the issuer names',
    sql: `
      -- The person behind a card is whom the issuer's certificate-to-person register says holds its
      -- authentication certificate (../holders.ts), not whoever the posted card-info files name:
      -- one account per person, and a renewed card (new certificate, same holder) stays with it.
      ALTER TABLE card_links ADD COLUMN holder TEXT;
      CREATE UNIQUE INDEX card_links_by_holder ON card_links (holder);
    `,
  },
];

export function openMyPageDatabase(path: string): MyPageDatabase {
  return openMigratedDatabase(path, kMyPageMigrations);
}
