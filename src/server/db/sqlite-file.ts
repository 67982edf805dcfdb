// One way to open a SQLite file for Salita's servers (the node and the reference cloud): the same pragmas, and
// the schema brought up to date by drizzle's migrator before anything else touches it.

import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { appRoot } from '../app-root.js';
import { backupsDir, latestBackup, takeBackup } from './sqlite-backup.js';

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

/** A database file that exists but cannot be trusted: the start stops here, naming the file and the backup. */
export class DatabaseFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
    readonly backup: string | undefined,
    whatElse: string,
  ) {
    super(
      `${reason}. Refusing to start on it: starting with an empty database would silently lose its data. ` +
        (backup
          ? `The newest backup is ${backup}: stop the process, move ${file} away (with any ${basename(file)}-wal and ${basename(file)}-shm next to it), copy the backup to ${file}, and start again (docs/operations.md, "Restore from a backup"). `
          : `There is no backup in ${backupsDir(dirname(file))}. `) +
        `Or ${whatElse}.`,
    );
    this.name = 'DatabaseFileError';
  }
}

export interface OpenSqliteOptions<S extends Record<string, unknown>> {
  file: string;
  schema: S;
  migrationsFolder: string;
  label: string;
  /** Backup file names start with this ("salita", "cloud"); the backups live in `<dir of file>/backups/`. */
  backupBase: string;
  /** The way out the error offers when no backup helps ("move it away to start with an empty database"). */
  whatElse: string;
  /** Where a failed pre-migration backup is reported (it does not stop the migration). */
  log?: (msg: string, err?: unknown) => void;
  now?: () => number;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Refuses a file that exists but is no usable database: empty, not SQLite at all, or failing quick_check. Only
 * a missing file means "first start". quick_check reads every page once (O(size), not the O(size·log) of a
 * full integrity_check), which a start can afford.
 */
function checkExistingFile(opts: OpenSqliteOptions<Record<string, unknown>>): void {
  const refuse = (reason: string) => {
    throw new DatabaseFileError(
      opts.file,
      `${opts.label} ${opts.file} ${reason}`,
      latestBackup(backupsDir(dirname(opts.file)), opts.backupBase)?.path,
      opts.whatElse,
    );
  };
  const size = statSync(opts.file).size;
  if (size === 0) refuse('exists but is empty (0 bytes)');
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  const fd = openSync(opts.file, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!head.equals(SQLITE_MAGIC)) refuse(`is not a SQLite database (${size} bytes without the SQLite header)`);
  let problems: string[];
  let probe: Database.Database | undefined;
  try {
    probe = new Database(opts.file, { fileMustExist: true });
    problems = (probe.pragma('quick_check(5)') as { quick_check: string }[]).map((r) => r.quick_check);
  } catch (err) {
    problems = [(err as Error).message];
  } finally {
    probe?.close();
  }
  if (problems.length !== 1 || problems[0] !== 'ok') refuse(`is damaged (PRAGMA quick_check: ${problems.slice(0, 3).join('; ')})`);
}

/** Migrations in the folder that this database has not applied yet (the test the drizzle migrator itself makes). */
function pendingMigrations(sqlite: Database.Database, migrationsFolder: string): number {
  const known = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  if (!known) return Number.POSITIVE_INFINITY;
  const last = sqlite.prepare('SELECT max(created_at) AS at FROM __drizzle_migrations').get() as { at: number | null };
  return readMigrationFiles({ migrationsFolder }).filter((m) => last.at === null || Number(last.at) < m.folderMillis).length;
}

export function openMigratedSqlite<S extends Record<string, unknown>>(opts: OpenSqliteOptions<S>): OpenSqlite<S> {
  const existed = existsSync(opts.file);
  if (existed) checkExistingFile(opts);
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
  // A migration rewrites tables in place: keep the data as it was before it. A failed backup is reported, and
  // the migration goes on (it runs in a transaction; the start must not hang on a full disk for a backup).
  if (existed) {
    try {
      if (pendingMigrations(sqlite, opts.migrationsFolder) > 0) {
        takeBackup(sqlite, {
          dir: backupsDir(dirname(opts.file)),
          base: opts.backupBase,
          reason: 'pre-migration',
          ...(opts.now ? { now: opts.now() } : {}),
        });
      }
    } catch (err) {
      opts.log?.(`${opts.label}: the backup before migrating failed; migrating anyway`, err);
    }
  }
  try {
    migrate(db, { migrationsFolder: opts.migrationsFolder });
  } catch (err) {
    sqlite.close();
    throw new Error(`${opts.label} ${opts.file} could not be migrated: ${(err as Error).message}`);
  }
  return { db, sqlite, close: () => sqlite.close() };
}
