// `npm run cloud -- migrate --to postgres://…` on a populated SQLite cloud: every table is copied and verified
// (counts and digests printed), the sequences go on after the copied rows, a second run into the same database
// is refused and changes nothing, a bad URL is a usage error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { postgresPool } from '../../src/cloud/db/postgres.js';
import * as schema from '../../src/cloud/db/schema.js';
import { PostgresSql } from '../../src/cloud/db/sql.js';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type PostgresCluster, postgresSkipReason, startPostgresCluster } from '../helpers/postgres-cluster.js';
import { call, joinAccount, relayAnswer, withCloud } from './account-helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const otp = new MemoryOtpSender();
const codeOf = (id: string) => otp.codeFor(id);

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cloud/main.ts', ...args], { cwd: root, encoding: 'utf8' });
}

describe('migrate a SQLite cloud into PostgreSQL', { skip: postgresSkipReason(), timeout: 180_000 }, () => {
  let cluster: PostgresCluster;
  before(async () => {
    cluster = await startPostgresCluster();
  });
  after(() => cluster?.stop());

  it('copies every table, verified; refuses a second run; a bad URL is a usage error', () =>
    withCloud({ otpSender: otp }, async (cloud, dataDir) => {
      // A populated cloud: two households, a contact between them, published keys (and the key log), a relayed envelope.
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      const bo = await joinAccount(cloud, 'bo@example.org', codeOf);
      const inv = await call(cloud, 'POST', '/api/invites', ana.token);
      assert.equal(
        (await call(cloud, 'POST', '/api/invites/accept', bo.token, { token: inv.body.token, fingerprint: inv.body.fingerprint })).status,
        200,
      );
      assert.equal(await relayAnswer(cloud, ana, bo), 'accepted');
      const logSize = (await cloud.keyLog.head()).size;
      await cloud.stop();

      const url = cluster.createDatabase('salita_migrated');
      const run = cli('migrate', '--data-dir', dataDir, '--to', url);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`copied ${Object.keys(schema).length} tables from .* into PostgreSQL, verified`));
      assert.match(run.stdout, /key_log\s+\d+ rows {2}sha256 [0-9a-f]{64}/);

      const pool = postgresPool(url);
      try {
        const sql = new PostgresSql(pool);
        assert.equal(Number((await sql.get<{ n: number }>('SELECT count(*) AS n FROM key_log'))?.n), logSize);
        assert.equal(Number((await sql.get<{ n: number }>('SELECT count(*) AS n FROM account_contacts'))?.n), 2);
        assert.equal(Number((await sql.get<{ n: number }>('SELECT count(*) AS n FROM relay_envelopes'))?.n), 1);
        // The sequence goes on after the copied rows.
        const next = await sql.get<{ seq: number }>(
          "INSERT INTO key_log (device_id, leaf, leaf_hash) VALUES ('x', '{}', 'h') RETURNING seq",
        );
        assert.equal(next?.seq, logSize + 1);
        await sql.run("DELETE FROM key_log WHERE device_id = 'x'");
      } finally {
        await pool.end();
      }

      const again = cli('migrate', '--data-dir', dataDir, '--to', url);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /not empty .*nothing was copied/);
      const usage = cli('migrate', '--data-dir', dataDir, '--to', 'mysql://nope');
      assert.equal(usage.status, 2);
    }));
});
