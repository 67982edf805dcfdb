// startCloud for the cloud's test suite, on the store the run asks for. Normally the embedded SQLite file, as
// `npm run cloud` runs; with SALITA_TEST_CLOUD_POSTGRES (an admin URL of a running cluster, set by
// tests/cloud/suite-on-postgres.test.ts) every cloud gets a fresh PostgreSQL database of its own, the same one
// again when a test restarts a cloud on the same data dir (what survives a restart must survive it there too).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { CLOUD_DATABASE_FILE } from '../../src/cloud/db/open.js';
import { numberedPlaceholders } from '../../src/cloud/db/sql.js';
import { type CloudOptions, type RunningCloud, startCloud } from '../../src/cloud/server.js';

export const TEST_CLOUD_POSTGRES_ENV = 'SALITA_TEST_CLOUD_POSTGRES';
const adminUrl = process.env[TEST_CLOUD_POSTGRES_ENV];

/** Set when this run's clouds are on PostgreSQL: the reason a test about the SQLite file itself is skipped. */
export const sqliteOnly: string | undefined = adminUrl ? 'about the SQLite file itself (this run is on PostgreSQL)' : undefined;

const databases = new Map<string, string>();
let made = 0;

async function databaseFor(dataDir: string): Promise<string> {
  const known = databases.get(dataDir);
  if (known) return known;
  const name = `cloud_${process.pid}_${++made}`;
  const client = new pg.Client(adminUrl);
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl!);
  url.pathname = `/${name}`;
  databases.set(dataDir, url.href);
  return url.href;
}

export async function startTestCloud(opts: CloudOptions): Promise<RunningCloud> {
  if (!adminUrl || opts.database !== undefined) return startCloud(opts);
  return startCloud({ ...opts, database: await databaseFor(opts.dataDir) });
}

/** The CLI's store flags for the cloud of `dataDir` (`npm run cloud -- rollout …` must act on the same store). */
export async function testCloudStoreArgs(dataDir: string): Promise<string[]> {
  return adminUrl ? ['--database', await databaseFor(dataDir)] : [];
}

/**
 * A count from the store of the cloud in `dataDir`, read beside the running cloud (SQLite in WAL mode, read-only;
 * PostgreSQL, a connection of its own), for tests that look at what is stored.
 */
export async function storedCount(dataDir: string, text: string, params: readonly (string | number)[] = []): Promise<number> {
  if (!adminUrl) {
    const db = new Database(join(dataDir, CLOUD_DATABASE_FILE), { readonly: true });
    try {
      return (db.prepare(text).get(...params) as { n: number }).n;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client(await databaseFor(dataDir));
  await client.connect();
  try {
    return Number((await client.query(numberedPlaceholders(text), [...params])).rows[0].n);
  } finally {
    await client.end();
  }
}
