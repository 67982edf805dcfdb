// Opens (or creates) the cloud's database and applies migrations-cloud/ before anything else touches it,
// the same way the node opens its own (src/server/db/sqlite-file.ts).

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findMigrations, type OpenSqlite, openMigratedSqlite } from '../../server/db/sqlite-file.js';
import * as schema from './schema.js';

export const CLOUD_DATABASE_FILE = 'cloud.db';

export const CLOUD_MIGRATIONS = 'migrations-cloud';

/**
 * SALITA_CLOUD_MIGRATIONS_DIR if set; else migrations-cloud/ next to the running module, where the standalone
 * bundle (out/cloud/server.mjs, `npm run build:cloud`) carries its copy, so an installed bundle needs no
 * checkout around it; else migrations-cloud/ next to package.json (from src/ in tests).
 */
export function cloudMigrationsDir(): string {
  const beside = join(dirname(fileURLToPath(import.meta.url)), CLOUD_MIGRATIONS);
  if (process.env.SALITA_CLOUD_MIGRATIONS_DIR === undefined && existsSync(join(beside, 'meta', '_journal.json'))) return beside;
  return findMigrations(CLOUD_MIGRATIONS, 'SALITA_CLOUD_MIGRATIONS_DIR', 'cloud');
}

/** Backup files of this database are `backups/cloud-<time>-<reason>.db` in the data dir. */
export const CLOUD_DATABASE_BACKUP_BASE = 'cloud';

export function openCloudDatabase(
  dataDir: string,
  opts: { log?: (msg: string, err?: unknown) => void; now?: () => number } = {},
): OpenSqlite<typeof schema> {
  const opened = openMigratedSqlite({
    file: join(dataDir, CLOUD_DATABASE_FILE),
    schema,
    migrationsFolder: cloudMigrationsDir(),
    label: 'cloud database',
    backupBase: CLOUD_DATABASE_BACKUP_BASE,
    whatElse:
      'move the file away to start with an empty database (every token is then lost: each node logs in again, and publishes its devices again)',
    ...opts,
  });
  // FULL, not the node's NORMAL: the relay answers `accepted` only after its commit, and the sending node then
  // forgets the envelope, so a commit must survive a power loss too. The relay's group commit shares the
  // fsync between every frame of an event-loop turn.
  opened.sqlite.pragma('synchronous = FULL');
  return opened;
}
