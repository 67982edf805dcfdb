// Opens (or creates) the cloud's database and applies migrations-cloud/ before anything else touches it.
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../../main/core/util/app-root.js';
import * as schema from './schema.js';

export type CloudDb = BetterSQLite3Database<typeof schema>;
export const CLOUD_DATABASE_FILE = 'cloud.db';

export function cloudMigrationsDir(): string {
  const dir = process.env.SALITA_CLOUD_MIGRATIONS_DIR ?? join(appRoot(), 'migrations-cloud');
  if (!existsSync(join(dir, 'meta', '_journal.json'))) throw new Error(`cloud migrations not found: ${join(dir, 'meta', '_journal.json')} is missing`);
  return dir;
}

export function openCloudDatabase(dataDir: string): { db: CloudDb; sqlite: Database.Database; close(): void } {
  const file = join(dataDir, CLOUD_DATABASE_FILE);
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite, { schema });
  try {
    migrate(db, { migrationsFolder: cloudMigrationsDir() });
  } catch (err) {
    sqlite.close();
    throw new Error(`cloud database ${file} could not be migrated: ${(err as Error).message}`);
  }
  return { db, sqlite, close: () => sqlite.close() };
}
