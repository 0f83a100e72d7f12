/** The Mynaportal-like portal's database: its schema, as numbered migrations (../shared/sqlite.ts). */
import type Database from 'better-sqlite3';
import { openMigratedDatabase, type Migration } from '../shared/sqlite.js';

export type PortalDatabase = Database.Database;

export const kMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, certificates, sessions, login nonces, QR sessions',
    sql: `
      -- A person as the card-info AP (kenhojo basic 4) describes them. The account hangs off the
      -- person, never off a certificate: certificates change with every card, the person does not.
      -- Name, birth date and sex are what survive a move, so they identify the person (one row per
      -- combination: the mock portal cannot tell two such people apart, and says so by refusing).
      CREATE TABLE persons (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        birth      TEXT NOT NULL,
        sex        TEXT NOT NULL,
        address    TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX persons_by_identity ON persons (name, birth, sex);

      CREATE TABLE accounts (
        person_id     TEXT PRIMARY KEY REFERENCES persons (id) ON DELETE CASCADE,
        nickname      TEXT NOT NULL,
        emails        TEXT NOT NULL, -- JSON array: notification addresses 1 and 2
        flags         TEXT NOT NULL, -- JSON object: the notification check boxes of B-01
        language      TEXT NOT NULL,
        last_login_at TEXT,
        created_at    TEXT NOT NULL
      );

      -- Authentication certificates seen at login and linked to a person (issuer + serial, as a
      -- relying party keys them).
      CREATE TABLE certificates (
        issuer    TEXT NOT NULL,
        serial    TEXT NOT NULL,
        person_id TEXT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
        kind      TEXT NOT NULL,
        not_after TEXT NOT NULL,
        linked_at TEXT NOT NULL,
        PRIMARY KEY (issuer, serial)
      );

      -- Browser sessions. The id is the SHA-256 of the cookie's value, so a copy of the database
      -- cannot be replayed as cookies.
      CREATE TABLE sessions (
        id                TEXT PRIMARY KEY,
        csrf_token        TEXT NOT NULL,
        person_id         TEXT REFERENCES persons (id) ON DELETE SET NULL,
        cert_issuer       TEXT,
        cert_serial       TEXT,
        logged_in_at      TEXT,
        previous_login_at TEXT,
        pending           TEXT, -- JSON: a login waiting for card info, or a registration in progress
        created_at        TEXT NOT NULL,
        expires_at        TEXT NOT NULL
      );

      CREATE TABLE qr_sessions (
        id                 TEXT PRIMARY KEY,
        token_hash         TEXT NOT NULL,
        browser_session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        state              TEXT NOT NULL CHECK (state IN ('waiting', 'challenged', 'card-info', 'authenticated', 'failed')),
        next               TEXT,
        fail_code          TEXT,
        created_at         TEXT NOT NULL,
        expires_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
      );

      -- One-time login challenges, bound either to a browser session (PC login) or to a QR
      -- session (phone login), never both.
      CREATE TABLE login_nonces (
        nonce         TEXT PRIMARY KEY,
        session_id    TEXT REFERENCES sessions (id) ON DELETE CASCADE,
        qr_session_id TEXT REFERENCES qr_sessions (id) ON DELETE CASCADE,
        created_at    TEXT NOT NULL,
        expires_at    TEXT NOT NULL,
        used_at       TEXT,
        CHECK ((session_id IS NULL) <> (qr_session_id IS NULL))
      );
    `,
  },
  {
    version: 2,
    name: 'applications, signing sessions, submissions',
    sql: `
      -- An online application (申請) of a logged-in person. \`document\` is the canonical JSON the
      -- person signs (docs/portal-protocols.md, "Online application with an electronic signature");
      -- \`cms\` the verified detached CMS SignedData over it, once signed.
      CREATE TABLE applications (
        id            TEXT PRIMARY KEY,
        person_id     TEXT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
        form          TEXT NOT NULL, -- JSON: the fields as entered
        document      TEXT NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('draft', 'signed', 'submitted')),
        cms           BLOB,
        signed_at     TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );

      -- A hand-off to the signing app (deep link or QR code), bound to the browser session that
      -- started it; single use, 10 minutes.
      CREATE TABLE signing_sessions (
        id                 TEXT PRIMARY KEY,
        token_hash         TEXT NOT NULL,
        application_id     TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
        browser_session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        state              TEXT NOT NULL CHECK (state IN ('waiting', 'signed', 'failed')),
        fail_code          TEXT,
        fail_message       TEXT,
        created_at         TEXT NOT NULL,
        expires_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
      );

      -- What was submitted, kept with its signature so it can be verified again later.
      CREATE TABLE submissions (
        id             TEXT PRIMARY KEY, -- the submission number shown to the person
        application_id TEXT NOT NULL UNIQUE REFERENCES applications (id) ON DELETE CASCADE,
        person_id      TEXT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
        document       TEXT NOT NULL,
        cms            BLOB NOT NULL,
        submitted_at   TEXT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'people known by the issuer, not by their basic 4',
    sql: `
      -- Name, birth date and sex do not identify a person: two people can share them, and anyone who
      -- once read a card can post its (static, issuer-signed) card-info files. A person is now who
      -- the issuer's certificate-to-person register says holds the authentication certificate
      -- (docs/portal-protocols.md, "Whose card is it"); the basic 4 stay as what the card-info said,
      -- for forms. Rows from before keep a NULL holder and are reached through their certificates.
      DROP INDEX persons_by_identity;
      ALTER TABLE persons ADD COLUMN holder TEXT;
      CREATE UNIQUE INDEX persons_by_holder ON persons (holder);
    `,
  },
  {
    version: 4,
    name: 'sessions logged in from a phone wait for their browser',
    sql: `
      -- The QR session whose phone logged this browser session in (or started its registration):
      -- until the browser that showed that QR code claims it (and gets a new session id), the
      -- session counts as logged out, so a cookie planted before the login is worth nothing after.
      ALTER TABLE sessions ADD COLUMN awaiting_claim TEXT;
      CREATE INDEX qr_sessions_by_browser ON qr_sessions (browser_session_id);
      CREATE INDEX login_nonces_by_expiry ON login_nonces (expires_at);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
    `,
  },
];

/** Opens (creating when missing) and migrates the portal's database, or an in-memory one for ':memory:'. */
export function openPortalDatabase(path: string, migrations: readonly Migration[] = kMigrations): PortalDatabase {
  return openMigratedDatabase(path, migrations);
}
