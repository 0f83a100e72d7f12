/**
 * The portals' SQLite databases and their numbered schema migrations. A migration is applied once,
 * in its own transaction together with its row in `schema_migrations`, so a crash never leaves a
 * half applied schema and opening the same file twice changes nothing. New columns and tables go in
 * a new migration at the end of a portal's list; an applied migration is never edited.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { nativeModuleAdvice } from '../../package-root.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration "${m.name}" has version ${m.version}, expected ${i + 1}: versions are 1, 2, 3, … in order`);
  });
}

/** Applies the migrations not yet recorded in `schema_migrations`; returns the versions applied now. */
export function migrate(db: Database.Database, migrations: readonly Migration[], now: () => Date = () => new Date()): number[] {
  checkMigrationList(migrations);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  const newest = Math.max(0, ...applied);
  if (newest > migrations.length) {
    throw new Error(`the portal database is at schema version ${newest}, newer than this portal knows (${migrations.length}); use a newer jpki-hil or another --db`);
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const done: number[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, now().toISOString());
    })();
    done.push(migration.version);
  }
  return done;
}

/**
 * mkdir -p that fails instead of looping: Node's recursive mkdir spins forever under /proc, which
 * hung `portal serve --db /proc/...` past SIGTERM. (The emulator has its own for card images and
 * CA directories: the portal imports nothing from it.)
 */
export function makeDatabaseDirectory(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!existsSync(at)) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  if (existsSync(at) && !statSync(at).isDirectory()) throw Object.assign(new Error(`ENOTDIR: ${at} is not a directory`), { code: 'ENOTDIR', path: at, syscall: 'mkdir' });
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

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
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (e) {
    if (!/bindings file|better_sqlite3\.node|NODE_MODULE_VERSION/.test((e as Error).message)) throw e;
    throw new Error(`the portals keep their data in SQLite through better-sqlite3, whose native module is not built for this Node: ${nativeModuleAdvice('better-sqlite3')} (${(e as Error).message.split('\n', 1)[0]})`, { cause: e });
  }
  // WAL lets the CLI inspect a running portal's file; foreign keys are off by default in SQLite.
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  try {
    migrate(db, migrations);
  } catch (e) {
    db.close();
    throw e;
  }
  return cacheStatements(db);
}
