// Opens (or creates) the node's database and brings its schema up to date before anything else touches it.
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { join } from 'node:path';
import * as schema from './schema.js';
import { findMigrations, openMigratedSqlite, type OpenSqlite } from './sqlite-file.js';

export type Db = BetterSQLite3Database<typeof schema>;
export type OpenDatabase = OpenSqlite<typeof schema>;

export const DATABASE_FILE = 'salita.db';

/** migrations/ ships next to package.json; SALITA_MIGRATIONS_DIR overrides it for unusual layouts. */
export function migrationsDir(): string {
  return findMigrations('migrations', 'SALITA_MIGRATIONS_DIR', 'Salita database');
}

export function openDatabase(dataDir: string): OpenDatabase {
  return openMigratedSqlite({ file: join(dataDir, DATABASE_FILE), schema, migrationsFolder: migrationsDir(), label: 'Salita database' });
}
