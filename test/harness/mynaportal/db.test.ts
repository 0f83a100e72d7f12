/** The portal database: numbered migrations applied once, durable across reopening. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { kMigrations, openPortalDatabase } from '../../../harness/portal/mynaportal/db.js';
import { migrate, type Migration } from '../../../harness/portal/shared/sqlite.js';
import { PortalStore } from '../../../harness/portal/mynaportal/store.js';
import { tempDir } from '../../support/cards.js';

const kTables = ['accounts', 'applications', 'certificates', 'login_nonces', 'persons', 'qr_sessions', 'schema_migrations', 'sessions', 'signing_sessions', 'submissions'];

function tables(db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

describe('portal database migrations', () => {
  const dir = tempDir('jpki-hil-portal-db-');
  afterAll(() => dir.remove());

  it('creates every table on first open and records each migration', () => {
    const db = openPortalDatabase(':memory:');
    expect(tables(db)).toEqual(kTables);
    const applied = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    expect(applied).toEqual(kMigrations.map((m) => ({ version: m.version, name: m.name })));
    db.close();
  });

  it('does nothing when migrating twice', () => {
    const db = new Database(':memory:');
    expect(migrate(db, kMigrations)).toEqual(kMigrations.map((m) => m.version));
    const before = db.prepare('SELECT * FROM schema_migrations').all();
    expect(migrate(db, kMigrations)).toEqual([]);
    expect(db.prepare('SELECT * FROM schema_migrations').all()).toEqual(before);
    db.close();
  });

  it('applies only the migrations added since, and keeps the data', () => {
    const path = join(dir.path, 'portal.db');
    const first = openPortalDatabase(path);
    first.prepare("INSERT INTO persons (id, name, birth, sex, address, created_at) VALUES ('p1', '番号　太郎', '1985-04-01', '1', '東京都', 'now')").run();
    first.close();

    const added: Migration = { version: kMigrations.length + 1, name: 'a test column', sql: 'ALTER TABLE persons ADD COLUMN note TEXT' };
    const db = new Database(path);
    expect(migrate(db, [...kMigrations, added])).toEqual([added.version]);
    expect(migrate(db, [...kMigrations, added])).toEqual([]);
    expect(db.prepare('SELECT name, note FROM persons').get()).toEqual({ name: '番号　太郎', note: null });
    db.close();
  });

  it('refuses a database written by a newer portal, and a migration list out of order', () => {
    const db = new Database(':memory:');
    migrate(db, [...kMigrations, { version: kMigrations.length + 1, name: 'future', sql: 'CREATE TABLE future (x)' }]);
    expect(() => migrate(db, kMigrations)).toThrow(/newer than this portal knows/);
    expect(() => migrate(new Database(':memory:'), [{ version: 2, name: 'skipped one', sql: '' }])).toThrow(/expected 1/);
    db.close();
  });

  it('rolls a failing migration back whole', () => {
    const db = new Database(':memory:');
    const broken: Migration = { version: 1, name: 'half', sql: 'CREATE TABLE half (x); CREATE TABLE half (y);' };
    expect(() => migrate(db, [broken])).toThrow();
    expect(tables(db)).toEqual(['schema_migrations']);
    db.close();
  });

  it('enforces the foreign keys: a session gone takes its nonces and QR sessions with it', () => {
    const db = openPortalDatabase(':memory:');
    const store = new PortalStore(db);
    const now = new Date('2026-01-01T00:00:00Z');
    const later = new Date('2026-01-01T00:05:00Z');
    store.logins.createSession('s1', 'csrf', now, later);
    store.logins.createNonce('n1', { sessionId: 's1' }, now, later);
    store.logins.createQrSession({ id: 'q1', tokenHash: 'h', browserSessionId: 's1' }, now, later);
    store.logins.deleteSession('s1');
    expect(store.logins.getNonce('n1')).toBeUndefined();
    expect(store.logins.getQrSession('q1')).toBeUndefined();
    expect(() => store.logins.createNonce('n2', { sessionId: 'missing' }, now, later)).toThrow(/FOREIGN KEY/);
    db.close();
  });
});
