// One way to open a SQLite file for Salita's servers (the node and the reference cloud): the same pragmas, and
// the schema brought up to date by drizzle's migrator before anything else touches it.
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../util/app-root.js';

export interface OpenSqlite<S extends Record<string, unknown>> {
  db: BetterSQLite3Database<S>;
  sqlite: Database.Database;
  close(): void;
}

/**
 * The migrations folder `<app root>/<name>` (shipped next to package.json), or the directory in `envVar` for
 * unusual layouts. `label` names the database in the error ("Salita database", "cloud").
 */
export function findMigrations(name: string, envVar: string, label: string): string {
  const dir = process.env[envVar] ?? join(appRoot(), name);
  const journal = join(dir, 'meta', '_journal.json');
  if (!existsSync(journal)) throw new Error(`${label} migrations not found: ${journal} is missing`);
  return dir;
}

export function openMigratedSqlite<S extends Record<string, unknown>>(opts: { file: string; schema: S; migrationsFolder: string; label: string }): OpenSqlite<S> {
  let sqlite: Database.Database;
  try {
    sqlite = new Database(opts.file);
    // WAL: readers never block the writer. FULL: every commit is fsynced before it returns, so what we
    // acknowledged (a device's message, a cloud delivery, a used nonce) survives a power cut, not only a crash.
    // The writers that run often batch their work into one commit (group commit), so the fsync is paid per
    // batch. foreign_keys is off by default in SQLite, so say it.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
  } catch (err) {
    throw new Error(`${opts.label} ${opts.file} cannot be opened: ${(err as Error).message}`);
  }
  const db = drizzle(sqlite, { schema: opts.schema });
  try {
    migrate(db, { migrationsFolder: opts.migrationsFolder });
  } catch (err) {
    sqlite.close();
    throw new Error(`${opts.label} ${opts.file} could not be migrated: ${(err as Error).message}`);
  }
  return { db, sqlite, close: () => sqlite.close() };
}
