// `npm run cloud -- migrate --to postgres://…`: copies a SQLite cloud (stopped) into an empty PostgreSQL
// database, every table of the schema, in one PostgreSQL transaction: verified before it commits, by each
// table's row count and a digest of its rows (SHA-256 of their JSON, in primary-key order, columns in schema
// order) read back from PostgreSQL and compared with the SQLite side. A database that already holds a row is
// refused (nothing is overwritten); a failure leaves it as it was.
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { getTableConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { openPostgres } from './db/postgres.js';
import * as schema from './db/schema.js';
import type { SqlTx, SqlValue } from './db/sql.js';

export interface TableCopy {
  table: string;
  rows: number;
  /** SHA-256 (hex) of the rows, the same on both sides. */
  digest: string;
}

export class MigrateError extends Error {}

const BATCH = 500;

interface TableShape {
  name: string;
  columns: string[];
  /** The primary key's columns (the order rows are read and digested in). */
  key: string[];
  /** A column PostgreSQL fills from a sequence, whose next value follows the copied rows. */
  identity: string | null;
}

function tables(): TableShape[] {
  return Object.values(schema).map((t) => {
    const c = getTableConfig(t as SQLiteTable);
    const columns = c.columns.map((col) => col.name);
    const key = c.primaryKeys[0]?.columns.map((col) => col.name) ?? c.columns.filter((col) => col.primary).map((col) => col.name);
    // The auto-increment keys (key_log, relay_queue): an integer primary key named seq, an identity column there.
    const identity = c.columns.find((col) => col.primary && col.name === 'seq')?.name ?? null;
    return { name: c.name, columns, key: key.length > 0 ? key : columns, identity };
  });
}

const quoted = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');

/** One row as the digest reads it: numbers as numbers (bigint from PostgreSQL is already a number), text as text. */
function normal(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return v ?? null;
}

function digestOf(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(`${JSON.stringify(columns.map((c) => normal(r[c])))}\n`);
  return h.digest('hex');
}

async function readBack(tx: SqlTx, t: TableShape): Promise<Record<string, unknown>[]> {
  return tx.all<Record<string, unknown>>(`SELECT ${quoted(t.columns)} FROM "${t.name}" ORDER BY ${quoted(t.key)}`);
}

export async function migrateSqliteToPostgres(sqlite: Database.Database, url: string): Promise<TableCopy[]> {
  const { sql, pool } = await openPostgres(url);
  try {
    const shapes = tables();
    for (const t of shapes) {
      const any = await sql.get(`SELECT 1 AS one FROM "${t.name}" LIMIT 1`);
      if (any) throw new MigrateError(`the target database is not empty (table ${t.name} has rows): nothing was copied`);
    }
    return await sql.tx(async (tx) => {
      const copies: TableCopy[] = [];
      for (const t of shapes) {
        const rows = sqlite.prepare(`SELECT ${quoted(t.columns)} FROM "${t.name}" ORDER BY ${quoted(t.key)}`).all() as Record<
          string,
          unknown
        >[];
        for (let i = 0; i < rows.length; i += BATCH) {
          const batch = rows.slice(i, i + BATCH);
          const values = batch.map(() => `(${t.columns.map(() => '?').join(', ')})`).join(', ');
          const params = batch.flatMap((r) => t.columns.map((c) => (r[c] ?? null) as SqlValue));
          const overriding = t.identity ? ' OVERRIDING SYSTEM VALUE' : '';
          await tx.run(`INSERT INTO "${t.name}" (${quoted(t.columns)})${overriding} VALUES ${values}`, params);
        }
        if (t.identity) {
          await tx.run(
            `SELECT setval(pg_get_serial_sequence('"${t.name}"', '${t.identity}'), COALESCE(MAX("${t.identity}"), 1), MAX("${t.identity}") IS NOT NULL) FROM "${t.name}"`,
          );
        }
        const want = digestOf(rows, t.columns);
        const back = await readBack(tx, t);
        const got = digestOf(back, t.columns);
        if (back.length !== rows.length || got !== want) {
          throw new MigrateError(
            `table ${t.name} did not copy over as it is (${rows.length} rows, ${back.length} read back; digest ${want.slice(0, 12)} vs ${got.slice(0, 12)}): nothing was copied`,
          );
        }
        copies.push({ table: t.name, rows: rows.length, digest: want });
      }
      return copies;
    });
  } finally {
    await pool.end();
  }
}
