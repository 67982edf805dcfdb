// Files the node cannot do without: a lost storage.key stops the start (until --reset-secrets revokes what it
// sealed), a damaged or emptied salita.db stops it naming the newest backup, and backups are kept (daily, before
// a migration, pruned), so that a restore works.

import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import * as schema from '../../src/main/core/db/schema.js';
import { startNode } from '../../src/main/core/node.js';
import { backupsDir, DailyBackup, listBackups } from '../../src/server/db/sqlite-backup.js';
import { openMigratedSqlite } from '../../src/server/db/sqlite-file.js';
import { SQLITE_DAMAGES } from '../helpers/sqlite-damage.js';
import { cleanupAll, makePhone, pairPhone, startTestNode, tempDir } from '../helpers/test-node.js';

after(cleanupAll);

const start = (dataDir: string, extra: Record<string, unknown> = {}) =>
  startNode({ dataDir, port: 0, host: '127.0.0.1', mdns: false, ...extra });

async function nodeWithDevice() {
  const dataDir = tempDir();
  const node = await startTestNode({ dataDir });
  const paired = await pairPhone(node, { phone: makePhone('Kept') });
  await node.stop();
  return { dataDir, paired };
}

describe('storage.key', () => {
  test('deleted while devices are paired: the start refuses naming the file; --reset-secrets revokes, says so, and a new pairing works', async () => {
    const { dataDir, paired } = await nodeWithDevice();
    const keyFile = join(dataDir, 'storage.key');
    rmSync(keyFile);
    await assert.rejects(
      start(dataDir),
      (err: Error) => err.message.includes(keyFile) && /missing/.test(err.message) && /--reset-secrets/.test(err.message),
    );
    assert.throws(() => statSync(keyFile), 'no new key was made while refusing');

    const node = await startTestNode({ dataDir, resetSecrets: true });
    assert.deepEqual(node.secretsReset, { sessions: 1, peerLinks: 0, cloudToken: false });
    const old = await paired.stubborn(node.base).request('POST', '/api/node/heartbeat', {});
    assert.equal(old.status, 401);
    assert.equal((old.body as any).error, 'session_revoked');
    const again = await pairPhone(node, { phone: makePhone('Again') });
    assert.equal((await again.client.request('POST', '/api/node/heartbeat', {})).status, 200);
    await node.stop();
    // The next start needs no flag: the new key opens everything that is live.
    const third = await startTestNode({ dataDir });
    assert.equal((await again.stubborn(third.base).request('POST', '/api/node/heartbeat', {})).status, 200);
  });

  test('replaced by another key: the start refuses naming the file', async () => {
    const { dataDir } = await nodeWithDevice();
    const keyFile = join(dataDir, 'storage.key');
    writeFileSync(keyFile, `${JSON.stringify({ version: 1, key: Buffer.alloc(32, 7).toString('base64url') })}\n`, { mode: 0o600 });
    await assert.rejects(
      start(dataDir),
      (err: Error) => err.message.includes(keyFile) && /does not open 1 device session/.test(err.message),
    );
  });

  test('a session whose sealed key no longer opens is a clean 401 session_revoked, not a 500', async () => {
    const dataDir = tempDir();
    const node = await startTestNode({ dataDir });
    const paired = await pairPhone(node);
    const raw = new Database(join(dataDir, 'salita.db'));
    raw
      .prepare('UPDATE device_sessions SET hmac_key = ?')
      .run(`v1.${Buffer.alloc(12).toString('base64url')}.${Buffer.alloc(40).toString('base64url')}`);
    raw.close();
    const r = await paired.client.request('POST', '/api/node/heartbeat', {});
    assert.equal(r.status, 401);
    assert.equal((r.body as any).error, 'session_revoked');
    assert.deepEqual(paired.lost, ['session_revoked'], 'the client dropped its session');
  });
});

describe('salita.db', () => {
  for (const [name, damage] of Object.entries(SQLITE_DAMAGES)) {
    test(`${name} is a startup error naming the file and the newest backup`, async () => {
      const { dataDir } = await nodeWithDevice();
      const file = join(dataDir, 'salita.db');
      // Checkpointed into the main file first (a clean stop does this), so the damage is to the real data.
      rmSync(`${file}-wal`, { force: true });
      rmSync(`${file}-shm`, { force: true });
      damage(file);
      const backup = listBackups(backupsDir(dataDir), 'salita')[0];
      assert.ok(backup, 'the first start took a backup');
      await assert.rejects(start(dataDir), (err: Error) => err.message.includes(file) && err.message.includes(backup.path));
    });
  }

  test('missing while the identity exists: refused naming the backup; --new-database starts empty', async () => {
    const { dataDir } = await nodeWithDevice();
    const file = join(dataDir, 'salita.db');
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    await assert.rejects(
      start(dataDir),
      (err: Error) => err.message.includes(file) && /backups/.test(err.message) && /--new-database/.test(err.message),
    );
    const node = await startTestNode({ dataDir, allowNewDatabase: true });
    assert.deepEqual((await node.admin('/api/admin/state')).body.devices, []);
  });

  test('restore from a backup brings the paired device back', async () => {
    const { dataDir, paired } = await nodeWithDevice();
    // The next day's start takes the daily backup, now with the device in it.
    const nextDay = await startTestNode({ dataDir, backupClock: () => Date.now() + 25 * 60 * 60_000 });
    await nextDay.stop();
    assert.equal(listBackups(backupsDir(dataDir), 'salita').length, 2);
    const file = join(dataDir, 'salita.db');
    writeFileSync(file, '');
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    copyFileSync(listBackups(backupsDir(dataDir), 'salita')[0]!.path, file);
    const node = await startTestNode({ dataDir });
    assert.deepEqual(
      (await node.admin('/api/admin/state')).body.devices.map((d: any) => d.name),
      ['Kept'],
    );
    assert.equal((await paired.stubborn(node.base).request('POST', '/api/node/heartbeat', {})).status, 200);
  });
});

describe('backups', () => {
  test('at most once a day (injected clock), 0600 files, pruned to the newest 5', () => {
    const dir = tempDir();
    const sqlite = new Database(join(dir, 'x.db'));
    sqlite.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')");
    let now = Date.parse('2026-01-01T00:00:00Z');
    const logs: string[] = [];
    const daily = new DailyBackup({ sqlite, dir: join(dir, 'backups'), base: 'salita', now: () => now, log: (m) => logs.push(m) });
    assert.ok(daily.tick());
    now += 60 * 60_000;
    assert.equal(daily.tick(), undefined, 'an hour later: none');
    now += 23 * 60 * 60_000;
    assert.ok(daily.tick(), 'a day later: one');
    for (let i = 0; i < 6; i++) {
      now += 25 * 60 * 60_000;
      daily.tick();
    }
    const kept = listBackups(join(dir, 'backups'), 'salita');
    assert.equal(kept.length, 5);
    assert.equal(kept[0]!.takenAt, now);
    assert.deepEqual(readdirSync(join(dir, 'backups')).length, 5);
    for (const b of kept) {
      assert.equal(statSync(b.path).mode & 0o777, 0o600);
      const copy = new Database(b.path, { readonly: true });
      assert.equal((copy.prepare('SELECT v FROM t').get() as { v: string }).v, 'kept');
      copy.close();
    }
    sqlite.close();
    // A failing backup is logged, not thrown.
    const broken = new DailyBackup({
      sqlite,
      dir: join(dir, 'backups'),
      base: 'salita',
      now: () => now + 2 * 86_400_000,
      log: (m) => logs.push(m),
    });
    assert.equal(broken.tick(), undefined);
    assert.match(logs.join('\n'), /failed/);
  });

  test('a backup is taken before a migration', () => {
    const dir = tempDir();
    const older = join(dir, 'migrations-old');
    cpSync('migrations', older, { recursive: true });
    const journal = JSON.parse(readFileSync(join(older, 'meta', '_journal.json'), 'utf8'));
    journal.entries = journal.entries.slice(0, -1);
    writeFileSync(join(older, 'meta', '_journal.json'), JSON.stringify(journal));
    const data = join(dir, 'data');
    mkdirSync(data);
    const file = join(data, 'salita.db');
    const opts = { file, schema, label: 'Salita database', backupBase: 'salita', whatElse: 'x' };
    openMigratedSqlite({ ...opts, migrationsFolder: older }).close();
    assert.deepEqual(listBackups(backupsDir(data), 'salita'), [], 'a new database needs no backup');
    openMigratedSqlite({ ...opts, migrationsFolder: 'migrations' }).close();
    const taken = listBackups(backupsDir(data), 'salita');
    assert.equal(taken.length, 1);
    assert.equal(taken[0]!.reason, 'pre-migration');
    openMigratedSqlite({ ...opts, migrationsFolder: 'migrations' }).close();
    assert.equal(listBackups(backupsDir(data), 'salita').length, 1, 'nothing to migrate: no backup');
  });
});
