// The cloud's database seam (src/cloud/db/sql.ts) behaves the same on SQLite and on PostgreSQL: placeholders
// (a `?` inside quotes is text), changes counts, a transaction commits or rolls back whole, nothing uncommitted
// is seen outside it, and transactions that lock the same key do not lose each other's updates.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type CloudSql, numberedPlaceholders, PostgresSql, SqliteSql } from '../../src/cloud/db/sql.js';
import { type PostgresCluster, postgresSkipReason, startPostgresCluster } from '../helpers/postgres-cluster.js';

function suite(name: string, open: () => Promise<CloudSql>, skip?: string) {
  describe(`the database seam on ${name}`, { skip, timeout: 120_000 }, () => {
    let sql: CloudSql;
    before(async () => {
      sql = await open();
      await sql.run('CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL, flag INTEGER NOT NULL DEFAULT 0)');
    });
    after(async () => {
      await sql.close();
    });

    it('placeholders, a `?` inside quotes, changes counts', async () => {
      assert.equal((await sql.run('INSERT INTO things (id, n) VALUES (?, ?), (?, ?)', ['a', 1, 'b', 2])).changes, 2);
      const row = await sql.get<{ q: string; n: number }>("SELECT '?' AS q, n FROM things WHERE id = ?", ['b']);
      assert.deepEqual({ q: row?.q, n: Number(row?.n) }, { q: '?', n: 2 });
      assert.equal((await sql.run('UPDATE things SET n = n + 1 WHERE id IN (?, ?)', ['a', 'zz'])).changes, 1);
      assert.equal((await sql.run('INSERT INTO things (id, n) VALUES (?, ?) ON CONFLICT (id) DO NOTHING', ['a', 9])).changes, 0);
      const back = await sql.get<{ id: string }>('INSERT INTO things (id, n) VALUES (?, ?) RETURNING id', ['c', 3]);
      assert.equal(back?.id, 'c');
      assert.equal(await sql.get('SELECT id FROM things WHERE id = ?', ['none']), undefined);
      assert.equal((await sql.all('SELECT id FROM things ORDER BY id')).length, 3);
    });

    it('a transaction commits whole, or rolls back whole when it throws', async () => {
      await sql.tx(async (tx) => {
        await tx.run('INSERT INTO things (id, n) VALUES (?, ?)', ['t1', 1]);
        await tx.run('UPDATE things SET n = ? WHERE id = ?', [5, 't1']);
      });
      assert.equal(Number((await sql.get<{ n: number }>('SELECT n FROM things WHERE id = ?', ['t1']))?.n), 5);
      await assert.rejects(
        sql.tx(async (tx) => {
          await tx.run('INSERT INTO things (id, n) VALUES (?, ?)', ['t2', 1]);
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal(await sql.get('SELECT id FROM things WHERE id = ?', ['t2']), undefined);
    });

    it('nothing uncommitted is seen outside the transaction', async () => {
      let committed = false;
      let open!: () => void;
      const gate = new Promise<void>((r) => {
        open = r;
      });
      const writing = sql.tx(async (tx) => {
        await tx.run('INSERT INTO things (id, n) VALUES (?, ?)', ['u1', 1]);
        await gate;
      });
      await new Promise((r) => setTimeout(r, 20));
      const reading = sql.get<{ id: string }>('SELECT id FROM things WHERE id = ?', ['u1']).then((row) => ({ row, committed }));
      await new Promise((r) => setTimeout(r, 20));
      open();
      await writing;
      committed = true;
      const seen = await reading;
      if (seen.row) assert.equal(seen.committed || name === 'SQLite', true, 'seen only once committed');
      // SQLite: the read waited for the commit (one connection); PostgreSQL: it did not see the row at all.
      assert.equal(seen.row === undefined, name === 'PostgreSQL');
    });

    it('transactions that lock the same key lose no update', async () => {
      await sql.run('INSERT INTO things (id, n) VALUES (?, ?)', ['counter', 0]);
      await Promise.all(
        Array.from({ length: 20 }, () =>
          sql.tx(async (tx) => {
            await tx.lock('counter');
            const r = await tx.get<{ n: number }>('SELECT n FROM things WHERE id = ?', ['counter']);
            await new Promise((res) => setTimeout(res, 1));
            await tx.run('UPDATE things SET n = ? WHERE id = ?', [Number(r!.n) + 1, 'counter']);
          }),
        ),
      );
      assert.equal(Number((await sql.get<{ n: number }>('SELECT n FROM things WHERE id = ?', ['counter']))?.n), 20);
    });
  });
}

describe('numbered placeholders', () => {
  it('turns ? into $n outside quotes only', () => {
    assert.equal(numberedPlaceholders(`SELECT '?', "a?", ? , ?`), `SELECT '?', "a?", $1 , $2`);
  });
});

const dirs: string[] = [];
suite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'salita-sql-'));
  dirs.push(dir);
  return new SqliteSql(new Database(join(dir, 'test.db')));
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let cluster: PostgresCluster | undefined;
const pgSkip = postgresSkipReason();
suite(
  'PostgreSQL',
  async () => {
    cluster = await startPostgresCluster();
    return new PostgresSql(new pg.Pool({ connectionString: cluster.createDatabase('salita_seam'), max: 10 }));
  },
  pgSkip,
);
after(() => cluster?.stop());
