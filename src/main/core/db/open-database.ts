// Opens (or creates) the node's database and brings its schema up to date before anything else touches it.
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../util/app-root.js';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

export interface OpenDatabase {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

export const DATABASE_FILE = 'salita.db';

/** migrations/ ships next to package.json; SALITA_MIGRATIONS_DIR overrides it for unusual layouts. */
export function migrationsDir(): string {
  const dir = process.env.SALITA_MIGRATIONS_DIR ?? join(appRoot(), 'migrations');
  if (!existsSync(join(dir, 'meta', '_journal.json'))) {
    throw new Error(`Salita database migrations not found: ${join(dir, 'meta', '_journal.json')} is missing`);
  }
  return dir;
}

export function openDatabase(dataDir: string): OpenDatabase {
  const file = join(dataDir, DATABASE_FILE);
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file);
    // WAL: readers never block the writer; NORMAL is durable across app crashes (not power loss), which is
    // the right trade for a device list. foreign_keys is off by default in SQLite, so say it.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
  } catch (err) {
    throw new Error(`Salita database ${file} cannot be opened: ${(err as Error).message}`);
  }
  const db = drizzle(sqlite, { schema });
  try {
    migrate(db, { migrationsFolder: migrationsDir() });
  } catch (err) {
    sqlite.close();
    throw new Error(`Salita database ${file} could not be migrated: ${(err as Error).message}`);
  }
  return { db, sqlite, close: () => sqlite.close() };
}
