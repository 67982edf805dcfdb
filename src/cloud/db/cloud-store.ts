// The cloud's store, whichever it is: the embedded SQLite file in the data dir (the default, one instance), or
// PostgreSQL shared by several instances (`--database postgres://…`). Both are migrated before anything else
// touches them, and both are used through one CloudSql.
import type Database from 'better-sqlite3';
import { openCloudDatabase } from './open.js';
import { openPostgres } from './postgres.js';
import { type CloudSql, SqliteSql } from './sql.js';

export interface CloudStore {
  readonly sql: CloudSql;
  /** The SQLite connection (for its daily backup file); none on PostgreSQL, whose backups are the operator's. */
  readonly sqlite: Database.Database | null;
  /** What the log says it is: `SQLite <file>` or `PostgreSQL <host>/<db>` (no password). */
  readonly describe: string;
  close(): Promise<void>;
}

/** `postgres://` or `postgresql://`: the only URLs --database takes. */
export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//.test(url);

export async function openCloudStore(opts: {
  dataDir: string;
  /** A PostgreSQL URL; absent: the SQLite file in dataDir. */
  database?: string | undefined;
  log?: (msg: string, err?: unknown) => void;
  now?: () => number;
}): Promise<CloudStore> {
  if (opts.database !== undefined) {
    if (!isPostgresUrl(opts.database)) throw new Error('--database takes a postgres:// URL (without it the cloud keeps its SQLite file)');
    const { sql } = await openPostgres(opts.database);
    const u = new URL(opts.database);
    return { sql, sqlite: null, describe: `PostgreSQL ${u.host}${u.pathname}`, close: () => sql.close() };
  }
  const opened = openCloudDatabase(opts.dataDir, { ...(opts.log ? { log: opts.log } : {}), ...(opts.now ? { now: opts.now } : {}) });
  const sql = new SqliteSql(opened.sqlite);
  return { sql, sqlite: opened.sqlite, describe: `SQLite ${opened.sqlite.name}`, close: () => sql.close() };
}
