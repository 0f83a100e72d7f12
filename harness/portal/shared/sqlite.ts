/**
 * The small portals' SQLite databases, in the portal's migration pattern (../db.ts): each
 * migration applied once, in one transaction with its row in `schema_migrations`.
 */
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { makeDatabaseDirectory, type Migration } from './db.js';

/**
 * Keeps every prepared statement by its SQL text, so that the stores, which prepare where they
 * query, compile each statement once per database instead of once per request. A better-sqlite3
 * statement can be run again and again; none of ours is iterated or switched to raw/pluck mode,
 * the two uses that would make sharing one unsafe.
 */
export function cacheStatements<T extends Database.Database>(db: T): T {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<typeof prepare>>();
  db.prepare = ((sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  }) as typeof db.prepare;
  return db;
}

/** Opens (creating when missing) and migrates the database at `path`, or an in-memory one for ':memory:'. */
export function openMigratedDatabase(path: string, migrations: readonly Migration[]): Database.Database {
  if (path !== ':memory:') makeDatabaseDirectory(dirname(path));
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, new Date().toISOString());
    })();
  }
  return cacheStatements(db);
}
