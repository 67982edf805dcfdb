// The cloud's store on PostgreSQL: its schema has every table and column of the SQLite one; several instances
// starting at once migrate once (the others wait under the advisory lock and find nothing to do); what the
// cloud's SQL reads back has the types it reads from SQLite (bigint as a number).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type PgTable, getTableConfig as pgTable } from 'drizzle-orm/pg-core';
import { type SQLiteTable, getTableConfig as sqliteTable } from 'drizzle-orm/sqlite-core';
import * as pgSchema from '../../src/cloud/db/pg-schema.js';
import { cloudPgMigrationsDir, migratePostgres, postgresPool } from '../../src/cloud/db/postgres.js';
import * as sqliteSchema from '../../src/cloud/db/schema.js';
import { PostgresSql } from '../../src/cloud/db/sql.js';
import { type PostgresCluster, postgresSkipReason, startPostgresCluster } from '../helpers/postgres-cluster.js';

const shape = (tables: Record<string, unknown>, config: (t: never) => { name: string; columns: { name: string; notNull: boolean }[] }) =>
  Object.fromEntries(
    Object.values(tables)
      .map((t) => config(t as never))
      .map((c) => [c.name, c.columns.map((col) => `${col.name}${col.notNull ? '!' : ''}`).sort()]),
  );

describe('the PostgreSQL schema', () => {
  it('has every table and column of the SQLite schema, with the same NOT NULLs', () => {
    const lite = shape(sqliteSchema, (t) => sqliteTable(t as SQLiteTable));
    const pg = shape(pgSchema, (t) => pgTable(t as PgTable));
    assert.deepEqual(pg, lite);
  });
});

describe('the cloud on PostgreSQL: migrations', { skip: postgresSkipReason(), timeout: 120_000 }, () => {
  let cluster: PostgresCluster;
  before(async () => {
    cluster = await startPostgresCluster();
  });
  after(() => cluster?.stop());

  it('three instances starting at once migrate once', async () => {
    const url = cluster.createDatabase('salita_migrate');
    const pools = [postgresPool(url), postgresPool(url), postgresPool(url)];
    try {
      const applied = await Promise.all(pools.map((p) => migratePostgres(p)));
      const all = (JSON.parse(readFileSync(join(cloudPgMigrationsDir(), 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] })
        .entries.length;
      assert.deepEqual([...applied].sort(), [0, 0, all], 'one applied the migrations, the others found nothing to do');
      const sql = new PostgresSql(pools[0]!);
      const tables = await sql.all<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
      assert.equal(tables.length, Object.keys(sqliteSchema).length);
      // Byte order, as SQLite's: a device-id page or an ISO-time order is the same on both stores.
      const collations = await sql.all<{ c: string | null }>(
        "SELECT DISTINCT collation_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'text'",
      );
      assert.deepEqual(collations, [{ c: 'C' }]);
      assert.equal(await migratePostgres(pools[1]!), 0, 'and a later start applies nothing');
      await sql.run('INSERT INTO key_log (device_id, leaf, leaf_hash) VALUES (?, ?, ?)', ['d', '{}', 'h']);
      const row = await sql.get<{ seq: number }>('SELECT seq FROM key_log');
      assert.equal(row?.seq, 1, 'a bigint reads back as a number');
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});
