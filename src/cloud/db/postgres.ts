// The cloud's store on PostgreSQL (`--database postgres://…`): a pg pool with the types the cloud's SQL expects
// (bigint as a JS number: sequence numbers and byte sizes stay far below 2^53), and migrations-cloud-pg/ applied
// at start under a session advisory lock, so that several instances starting at once migrate once and the others
// wait for it and then find nothing to do.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { findMigrations } from '../../server/db/sqlite-file.js';
import { PostgresSql } from './sql.js';

export const CLOUD_PG_MIGRATIONS = 'migrations-cloud-pg';
/** The advisory lock key of the migration (any instance of any version of this cloud takes the same). */
const MIGRATION_LOCK = 'salita-cloud-migrations';

/** migrations-cloud-pg/ next to the running bundle (out/cloud/), else next to package.json (from src/). */
export function cloudPgMigrationsDir(): string {
  const beside = join(dirname(fileURLToPath(import.meta.url)), CLOUD_PG_MIGRATIONS);
  if (process.env.SALITA_CLOUD_PG_MIGRATIONS_DIR === undefined && existsSync(join(beside, 'meta', '_journal.json'))) return beside;
  return findMigrations(CLOUD_PG_MIGRATIONS, 'SALITA_CLOUD_PG_MIGRATIONS_DIR', 'cloud (PostgreSQL)');
}

const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export function postgresPool(url: string, max = 10): pg.Pool {
  return new pg.Pool({ connectionString: url, max, types });
}

/** Applies the migrations once, whoever else starts now; returns how many this call applied. */
export async function migratePostgres(pool: pg.Pool, folder = cloudPgMigrationsDir()): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [MIGRATION_LOCK]);
    try {
      const count = async () => {
        const t = await client.query("SELECT to_regclass('drizzle.__drizzle_migrations') AS t");
        if (!t.rows[0]?.t) return 0;
        return Number((await client.query('SELECT count(*) AS n FROM drizzle.__drizzle_migrations')).rows[0].n);
      };
      const before = await count();
      await migrate(drizzle(client), { migrationsFolder: folder });
      return (await count()) - before;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** The store on PostgreSQL, migrated. */
export async function openPostgres(url: string): Promise<{ sql: PostgresSql; pool: pg.Pool; applied: number }> {
  const pool = postgresPool(url);
  try {
    const applied = await migratePostgres(pool);
    return { sql: new PostgresSql(pool), pool, applied };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
