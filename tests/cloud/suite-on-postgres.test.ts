// The cloud's whole test suite once more, with every cloud on PostgreSQL instead of its SQLite file: the same
// files, run by the same runner, in a child process whose clouds each get a fresh database of a cluster started
// here (tests/helpers/test-cloud.ts). Left out: the tests of the stores themselves (they run both already), of
// the SQLite file (damage, backups, the migration from it), and those that start the built cloud as processes
// (tests/relay/cloud-instances.test.ts runs those on PostgreSQL).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type PostgresCluster, postgresSkipReason, startPostgresCluster } from '../helpers/postgres-cluster.js';
import { TEST_CLOUD_POSTGRES_ENV } from '../helpers/test-cloud.js';

const here = dirname(fileURLToPath(import.meta.url));
const NOT_HERE = new Set([
  basename(fileURLToPath(import.meta.url)),
  'sql-adapter.test.ts',
  'postgres-store.test.ts',
  'migrate-to-postgres.test.ts',
  'bus.test.ts',
  'drain.test.ts',
  'load-balancer.test.ts',
  'cloud-blobs-memory.test.ts',
  'cloud-data-safety.test.ts',
  'instances.test.ts',
]);

function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...rest } = env;
  return rest;
}

describe('the cloud test suite on PostgreSQL', { skip: postgresSkipReason(), timeout: 20 * 60_000 }, () => {
  let cluster: PostgresCluster;
  before(async () => {
    cluster = await startPostgresCluster();
  });
  after(() => cluster?.stop());

  it('passes', async () => {
    const files = readdirSync(here)
      .filter((f) => f.endsWith('.test.ts') && !NOT_HERE.has(f))
      .sort()
      .map((f) => join(here, f));
    assert.ok(files.length >= 10, `the suite: ${files.length} files`);
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', ...files], {
      cwd: join(here, '..', '..'),
      // Without NODE_TEST_CONTEXT: with it, the runner takes itself for a file of this run and runs nothing.
      env: { ...withoutTestContext(process.env), [TEST_CLOUD_POSTGRES_ENV]: cluster.url('postgres') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d;
    });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)`, 'm').exec(out)?.[1] ?? -1);
    const failed = out.split('\n').filter((l) => /^\s*not ok /.test(l));
    assert.equal(code, 0, `failed on PostgreSQL:\n${failed.join('\n')}\n--- tail ---\n${out.slice(-6000)}`);
    assert.equal(count('fail'), 0);
    assert.ok(count('pass') >= 50, `${count('pass')} tests passed on PostgreSQL`);
  });
});
