// Opens (or creates) the node's database and brings its schema up to date before anything else touches it.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { backupsDir, latestBackup } from '../../../server/db/sqlite-backup.js';
import { DatabaseFileError, findMigrations, type OpenSqlite, openMigratedSqlite } from '../../../server/db/sqlite-file.js';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;
export type OpenDatabase = OpenSqlite<typeof schema>;

export const DATABASE_FILE = 'salita.db';

/** migrations/ ships next to package.json; SALITA_MIGRATIONS_DIR overrides it for unusual layouts. */
export function migrationsDir(): string {
  return findMigrations('migrations', 'SALITA_MIGRATIONS_DIR', 'Salita database');
}

/** Backup files of this database are `backups/salita-<time>-<reason>.db` in the data dir. */
export const DATABASE_BACKUP_BASE = 'salita';

export interface OpenDatabaseOptions {
  /** This data dir already has a node identity: a missing database is then a loss, not a first start. */
  identityExisted?: boolean;
  /** Start on an empty database even though the identity says there was one (`--new-database`). */
  allowNewDatabase?: boolean;
  log?: (msg: string, err?: unknown) => void;
  now?: () => number;
}

const WHAT_ELSE =
  'to go on as this node with no paired devices, move the file away and start once with --new-database (every device must pair again)';

export function openDatabase(dataDir: string, opts: OpenDatabaseOptions = {}): OpenDatabase {
  const file = join(dataDir, DATABASE_FILE);
  // identity.json is written at the first start together with the database: an identity without its database
  // means the database was lost (deleted, a failed copy), and an empty one would forget every paired device.
  if (opts.identityExisted && !opts.allowNewDatabase && !existsSync(file)) {
    throw new DatabaseFileError(
      file,
      `Salita database ${file} is missing, but this data dir has a node identity (it has been started before)`,
      latestBackup(backupsDir(dataDir), DATABASE_BACKUP_BASE)?.path,
      'start once with --new-database to go on as this node with an empty database (every device must pair again)',
    );
  }
  return openMigratedSqlite({
    file,
    schema,
    migrationsFolder: migrationsDir(),
    label: 'Salita database',
    backupBase: DATABASE_BACKUP_BASE,
    whatElse: WHAT_ELSE,
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
}
