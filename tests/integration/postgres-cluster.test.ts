// The test PostgreSQL cluster itself (tests/helpers/postgres-cluster.ts): it starts as an unprivileged user on a
// loopback port, takes connections with the pg driver, makes databases, and is gone after stop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { postgresSkipReason, startPostgresCluster } from '../helpers/postgres-cluster.js';

describe('a throw-away PostgreSQL cluster for the tests', { skip: postgresSkipReason() }, () => {
  it('runs on loopback as an unprivileged user, makes databases, and stops', async () => {
    const cluster = await startPostgresCluster();
    try {
      const url = cluster.createDatabase('salita_probe');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const r = await client.query<{ user: string; db: string; addr: string }>(
        'SELECT current_user AS user, current_database() AS db, inet_server_addr()::text AS addr',
      );
      assert.deepEqual(r.rows[0], { user: 'postgres', db: 'salita_probe', addr: '127.0.0.1/32' });
      const su = await client.query<{ rolsuper: boolean }>("SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'");
      assert.equal(su.rows[0]?.rolsuper, true);
      await client.end();
    } finally {
      cluster.stop();
    }
    const after = new pg.Client({ connectionString: cluster.url(), connectionTimeoutMillis: 2_000 });
    await assert.rejects(after.connect(), 'nothing listens there any more');
  });
});
