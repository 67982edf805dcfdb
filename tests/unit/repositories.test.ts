// Repositories on a real, migrated SQLite file in a temp dir, plus the at-rest SecretBox.
// (session-repository and peer-link-repository are mid-refactor and are not covered here.)

import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { MeshRepository, mergeAddresses } from '../../src/main/core/db/mesh-repository.js';
import { NonceRepository } from '../../src/main/core/db/nonce-repository.js';
import { type OpenDatabase, openDatabase } from '../../src/main/core/db/open-database.js';
import { PairingCodeRepository } from '../../src/main/core/db/pairing-code-repository.js';
import { aesGcmBox, keyFileSecretBox, STORAGE_KEY_FILE } from '../../src/main/core/secrets/secret-box.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { tempDatabases } from '../helpers/temp-databases.js';

const temp = tempDatabases('salita-unit-repo-');
const freshDir = temp.freshDir;
const freshDb = (dir?: string): OpenDatabase => temp.open(dir);

/** Runs `n` workers, each with its own connection, released at the same instant; returns their results. */
async function race(
  dataDir: string,
  n: number,
  job: { op: 'fail' | 'consume' | 'claim'; code: string; times: number; maxAttempts?: number },
): Promise<{ wins: number }[]> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const workers = Array.from(
    { length: n },
    (_, i) =>
      new Worker(new URL('./fixtures/ts-worker.mjs', import.meta.url), {
        workerData: {
          __module: new URL('./fixtures/db-worker.ts', import.meta.url).href,
          dataDir,
          maxAttempts: 5,
          who: `worker-${i}`,
          gate,
          ...job,
        },
        execArgv: [],
      }),
  );
  const online = workers.map((w) => new Promise<void>((r) => w.once('online', () => r())));
  const results = workers.map(
    (w) =>
      new Promise<{ wins: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => {
          if (code !== 0) reject(new Error(`worker exited ${code}`));
        });
      }),
  );
  await Promise.all(online);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  return Promise.all(results);
}

const selfRow = (id = 'node-self', name = 'Desk') => ({
  id,
  name,
  hostname: 'desk.local',
  port: 4242,
  capabilities: ['mesh'],
  publicKey: 'A'.repeat(43),
  addresses: ['192.168.1.2'],
});

describe('openDatabase', () => {
  test('creates the schema in a fresh dir and reopens an existing one', () => {
    const dir = freshDir();
    const a = openDatabase(dir);
    const tables = (a.sqlite.prepare("select name from sqlite_master where type='table'").all() as { name: string }[]).map((r) => r.name);
    for (const t of ['mesh_nodes', 'pairing_codes', 'device_sessions', 'used_nonces', 'peer_links']) assert.ok(tables.includes(t), t);
    assert.equal(a.sqlite.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(String(a.sqlite.pragma('journal_mode', { simple: true })).toLowerCase(), 'wal');
    new MeshRepository(a.db).upsertSelf(selfRow());
    a.close();
    const b = freshDb(dir);
    assert.equal(new MeshRepository(b.db).self()?.id, 'node-self', 'data survives a reopen (migrations are not re-applied destructively)');
  });

  test('an unopenable database path is an error naming the file', () => {
    // A parent directory that does not exist (openDatabase does not create the data dir).
    const dir = freshDir();
    assert.throws(() => openDatabase(join(dir, 'does', 'not', 'exist')), /salita\.db/);
  });
});

describe('MeshRepository', () => {
  test('upsertSelf keeps exactly one current row', () => {
    const repo = new MeshRepository(freshDb().db);
    repo.upsertSelf(selfRow());
    repo.upsertSelf({ ...selfRow(), name: 'Renamed', port: 5000 });
    let self = repo.self()!;
    assert.equal(self.id, 'node-self');
    assert.equal(self.name, 'Renamed');
    assert.equal(self.port, 5000);
    assert.equal(self.isCurrent, true);
    assert.equal(self.status, 'online');
    assert.deepEqual(self.capabilities, ['mesh']);
    // A different id claiming to be current demotes the old row instead of violating the one-current index.
    repo.upsertSelf(selfRow('node-new'));
    self = repo.self()!;
    assert.equal(self.id, 'node-new');
    assert.equal(repo.get('node-self')!.isCurrent, false);
  });

  test('upsertPeer inserts once, then updates the same row', () => {
    const repo = new MeshRepository(freshDb().db);
    repo.upsertSelf(selfRow());
    const first = repo.upsertPeer({
      id: 'phone-1',
      name: 'Phone',
      kind: 'phone',
      addresses: ['10.0.0.5'],
      paired: true,
      seen: true,
      capabilities: ['posting'],
    });
    assert.equal(first.isCurrent, false);
    assert.equal(first.status, 'online');
    assert.ok(first.pairedAt);
    assert.ok(first.lastSeen);
    assert.deepEqual(first.capabilities, ['posting']);
    const second = repo.upsertPeer({ id: 'phone-1', name: 'Phone 2', kind: 'phone', addresses: ['10.0.0.6'] });
    assert.equal(repo.peers().length, 1);
    assert.equal(second.name, 'Phone 2');
    assert.equal(second.createdAt, first.createdAt);
    assert.equal(second.pairedAt, first.pairedAt, 'not re-paired unless asked');
    assert.deepEqual(second.capabilities, ['posting'], 'omitted fields are kept');
    assert.deepEqual(second.addresses, ['10.0.0.6', '10.0.0.5'], 'newest address first');
  });

  test('upsertPeer: undefined keeps, null clears', () => {
    const repo = new MeshRepository(freshDb().db);
    repo.upsertPeer({ id: 'node-b', name: 'B', kind: 'desktop', hostname: 'b.local', port: 4000, publicKey: 'k' });
    assert.equal(repo.upsertPeer({ id: 'node-b', name: 'B', kind: 'desktop' }).hostname, 'b.local');
    const cleared = repo.upsertPeer({ id: 'node-b', name: 'B', kind: 'desktop', hostname: null, port: null });
    assert.equal(cleared.hostname, null);
    assert.equal(cleared.port, null);
    assert.equal(cleared.publicKey, 'k');
  });

  test("a peer cannot take over this node's own row", () => {
    const repo = new MeshRepository(freshDb().db);
    repo.upsertSelf(selfRow());
    assert.throws(() => repo.upsertPeer({ id: 'node-self', name: 'Evil', kind: 'phone' }), /own id/);
    assert.equal(repo.self()!.name, 'Desk');
    assert.equal(repo.touch('node-self', ['1.2.3.4']), false);
    assert.equal(repo.remove('node-self'), false);
    assert.ok(repo.self());
  });

  test('touch marks a known peer online and merges addresses; unknown ids are refused', () => {
    const repo = new MeshRepository(freshDb().db);
    assert.equal(repo.touch('nobody', []), false);
    assert.equal(repo.get('nobody'), undefined);
    repo.upsertPeer({ id: 'node-b', name: 'B', kind: 'desktop', addresses: ['10.0.0.1'] });
    assert.equal(repo.get('node-b')!.status, 'offline');
    assert.equal(repo.touch('node-b', ['10.0.0.2', '10.0.0.1']), true);
    const b = repo.get('node-b')!;
    assert.equal(b.status, 'online');
    assert.ok(b.lastSeen);
    assert.deepEqual(b.addresses, ['10.0.0.2', '10.0.0.1']);
  });

  test('peers() excludes self and is ordered by name', () => {
    const repo = new MeshRepository(freshDb().db);
    repo.upsertSelf(selfRow());
    for (const [id, name] of [
      ['n3', 'Charlie'],
      ['n1', 'Alpha'],
      ['n2', 'Bravo'],
    ])
      repo.upsertPeer({ id: id!, name: name!, kind: 'desktop' });
    assert.deepEqual(
      repo.peers().map((p) => p.name),
      ['Alpha', 'Bravo', 'Charlie'],
    );
  });

  test('remove deletes a peer once', () => {
    const repo = new MeshRepository(freshDb().db);
    repo.upsertPeer({ id: 'node-b', name: 'B', kind: 'desktop' });
    assert.equal(repo.remove('node-b'), true);
    assert.equal(repo.remove('node-b'), false);
    assert.equal(repo.get('node-b'), undefined);
  });

  test('markSilentOffline flips only online peers last seen before the cutoff', () => {
    const o = freshDb();
    const repo = new MeshRepository(o.db);
    repo.upsertSelf(selfRow());
    repo.upsertPeer({ id: 'old', name: 'Old', kind: 'desktop', seen: true });
    repo.upsertPeer({ id: 'fresh', name: 'Fresh', kind: 'desktop', seen: true });
    o.sqlite.prepare("update mesh_nodes set last_seen = '2000-01-01T00:00:00.000Z' where id in ('old', 'node-self')").run();
    const cutoff = new Date(Date.now() - 60_000).toISOString();
    assert.equal(repo.markSilentOffline(cutoff), 1);
    assert.equal(repo.get('old')!.status, 'offline');
    assert.equal(repo.get('fresh')!.status, 'online');
    assert.equal(repo.self()!.status, 'online', 'this node never marks itself offline');
    assert.equal(repo.markSilentOffline(cutoff), 0, 'already offline rows are not counted again');
  });

  test('mergeAddresses: newest first, deduplicated, bounded', () => {
    assert.deepEqual(mergeAddresses(['b', 'a'], ['a', 'c']), ['b', 'a', 'c']);
    const many = Array.from({ length: 40 }, (_, i) => `10.0.0.${i}`);
    const merged = mergeAddresses(many.slice(0, 10), many.slice(5));
    assert.equal(merged.length, 16);
    assert.deepEqual(merged.slice(0, 10), many.slice(0, 10));
    assert.equal(new Set(merged).size, merged.length);
  });
});

describe('PairingCodeRepository', () => {
  const insert = (repo: PairingCodeRepository, code = 'code-1', linkingCode = 'ABCD-EFGH', expiresAt = Date.now() + 60_000) =>
    repo.insert({ code, linkingCode, pin: '123456', expiresAt });

  test('insert and look up by either code', () => {
    const repo = new PairingCodeRepository(freshDb().db);
    const row = insert(repo);
    assert.equal(row.status, 'active');
    assert.equal(row.failedAttempts, 0);
    assert.equal(row.pin, '123456');
    assert.ok(row.createdAt);
    assert.deepEqual(repo.byCode('code-1'), row);
    assert.deepEqual(repo.byLinkingCode('ABCD-EFGH'), row);
    assert.equal(repo.byCode('nope'), undefined);
    assert.equal(repo.byLinkingCode('ZZZZ-ZZZZ'), undefined);
    assert.throws(() => insert(repo, 'code-2', 'ABCD-EFGH'), 'linking codes are unique');
  });

  test('recordFailure counts and locks at the limit', () => {
    const repo = new PairingCodeRepository(freshDb().db);
    insert(repo);
    assert.deepEqual(
      [1, 2].map(() => repo.recordFailure('code-1', 3)!).map((r) => [r.failedAttempts, r.status]),
      [
        [1, 'active'],
        [2, 'active'],
      ],
    );
    const third = repo.recordFailure('code-1', 3)!;
    assert.equal(third.failedAttempts, 3);
    assert.equal(third.status, 'locked');
    assert.equal(repo.byCode('code-1')!.status, 'locked');
    assert.equal(repo.recordFailure('code-1', 3)!.status, 'locked', 'a locked code stays locked');
    assert.equal(repo.consume('code-1', 'phone-1'), false, 'a locked code cannot be consumed');
  });

  test('a late wrong guess on a used code leaves it used; an unknown code gives undefined', () => {
    const repo = new PairingCodeRepository(freshDb().db);
    insert(repo);
    assert.equal(repo.consume('code-1', 'phone-1'), true);
    assert.equal(repo.recordFailure('code-1', 1)!.status, 'used');
    assert.equal(repo.recordFailure('nope', 1), undefined);
  });

  test('recordFailure only touches the named code', () => {
    const repo = new PairingCodeRepository(freshDb().db);
    insert(repo, 'a', 'AAAA-AAAA');
    insert(repo, 'b', 'BBBB-BBBB');
    repo.recordFailure('a', 1);
    assert.equal(repo.byCode('a')!.status, 'locked');
    assert.equal(repo.byCode('b')!.status, 'active');
    assert.equal(repo.byCode('b')!.failedAttempts, 0);
  });

  test('failure counting is atomic across concurrent connections', async () => {
    const dir = freshDir();
    const repo = new PairingCodeRepository(freshDb(dir).db);
    insert(repo);
    await race(dir, 4, { op: 'fail', code: 'code-1', times: 250, maxAttempts: 5 });
    const row = repo.byCode('code-1')!;
    assert.equal(row.failedAttempts, 1000, 'no lost updates');
    assert.equal(row.status, 'locked');
  });

  test('consume succeeds once', () => {
    const repo = new PairingCodeRepository(freshDb().db);
    insert(repo);
    assert.equal(repo.consume('code-1', 'phone-1'), true);
    assert.equal(repo.consume('code-1', 'phone-2'), false);
    const row = repo.byCode('code-1')!;
    assert.equal(row.status, 'used');
    assert.equal(row.usedBy, 'phone-1');
    assert.ok(row.usedAt);
    assert.equal(repo.consume('unknown', 'phone-1'), false);
  });

  test('consume succeeds exactly once across concurrent connections', async () => {
    const dir = freshDir();
    const repo = new PairingCodeRepository(freshDb(dir).db);
    insert(repo);
    const results = await race(dir, 4, { op: 'consume', code: 'code-1', times: 20 });
    assert.equal(
      results.reduce((s, r) => s + r.wins, 0),
      1,
    );
    assert.equal(repo.byCode('code-1')!.status, 'used');
  });

  test('prune removes only codes expired longer than the grace period', () => {
    const repo = new PairingCodeRepository(freshDb().db);
    const now = 1_000_000_000;
    const grace = 1000;
    insert(repo, 'long-gone', 'AAAA-AAAA', now - grace - 1);
    insert(repo, 'at-edge', 'BBBB-BBBB', now - grace);
    insert(repo, 'recently-expired', 'CCCC-CCCC', now - 1);
    insert(repo, 'live', 'DDDD-DDDD', now + 60_000);
    repo.consume('live', 'phone');
    assert.equal(repo.prune(now, grace), 1);
    assert.equal(repo.byCode('long-gone'), undefined);
    for (const c of ['at-edge', 'recently-expired', 'live']) assert.ok(repo.byCode(c), c);
    assert.equal(repo.prune(now, grace), 0);
    assert.equal(repo.prune(now + 100_000, grace), 3);
  });
});

describe('NonceRepository', () => {
  test('a nonce is claimed once per session', () => {
    const repo = new NonceRepository(freshDb().db);
    const until = Date.now() + 60_000;
    assert.equal(repo.claim('s1', 'n1', until), true);
    assert.equal(repo.claim('s1', 'n1', until), false);
    assert.equal(repo.claim('s1', 'n1', until + 1), false, 'a different expiry does not make a replay new');
    assert.equal(repo.claim('s2', 'n1', until), true, 'the same nonce in another session is independent');
    assert.equal(repo.claim('s1', 'n2', until), true);
    assert.equal(repo.count(), 3);
  });

  test('claims survive a reopen of the database', () => {
    const dir = freshDir();
    const a = openDatabase(dir);
    assert.equal(new NonceRepository(a.db).claim('s1', 'n1', Date.now() + 60_000), true);
    a.close();
    assert.equal(new NonceRepository(freshDb(dir).db).claim('s1', 'n1', Date.now() + 60_000), false);
  });

  test('prune removes expired rows only; a pruned nonce could be claimed again', () => {
    const repo = new NonceRepository(freshDb().db);
    const now = 5_000_000;
    repo.claim('s', 'old', now - 1);
    repo.claim('s', 'edge', now);
    repo.claim('s', 'live', now + 1000);
    assert.equal(repo.prune(now), 1);
    assert.equal(repo.count(), 2);
    assert.equal(repo.claim('s', 'edge', now), false);
    assert.equal(repo.claim('s', 'live', now), false);
    assert.equal(repo.prune(now), 0);
  });

  test('concurrent claims of the same nonces: each wins exactly once', async () => {
    const dir = freshDir();
    const repo = new NonceRepository(freshDb(dir).db);
    const results = await race(dir, 4, { op: 'claim', code: 'n', times: 100 });
    assert.equal(
      results.reduce((s, r) => s + r.wins, 0),
      100,
    );
    assert.equal(repo.count(), 100);
  });
});

describe('SecretBox', () => {
  const key = new Uint8Array(32).map((_, i) => i);

  test('seal/open round trip, random IV per seal', () => {
    const box = aesGcmBox(key, 'test');
    assert.equal(box.kind, 'test');
    for (const len of [0, 1, 16, 32, 1000]) {
      const plain = new Uint8Array(len).map((_, i) => (i * 7) & 255);
      const sealed = box.seal(plain);
      assert.match(sealed, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      assert.deepEqual(box.open(sealed), plain);
    }
    const p = utf8.encode('same secret');
    const s1 = box.seal(p);
    const s2 = box.seal(p);
    assert.notEqual(s1, s2);
    assert.ok(!s1.includes(toBase64Url(p)), 'the plaintext does not appear');
  });

  test('rejects keys that are not 32 bytes', () => {
    for (const len of [0, 16, 31, 33]) assert.throws(() => aesGcmBox(new Uint8Array(len), 'x'), /32 bytes/);
  });

  test('tampering is detected', () => {
    const box = aesGcmBox(key, 'test');
    const sealed = box.seal(utf8.encode('a device verification key'));
    const [v, ivText, ctText] = sealed.split('.') as [string, string, string];
    const iv = fromBase64Url(ivText);
    const ct = fromBase64Url(ctText);
    const flip = (b: Uint8Array, i: number) => {
      const c = b.slice();
      c[i]! ^= 1;
      return toBase64Url(c);
    };
    const bad = [
      `${v}.${flip(iv, 0)}.${ctText}`,
      `${v}.${ivText}.${flip(ct, 0)}`,
      `${v}.${ivText}.${flip(ct, ct.length - 1)}`, // auth tag
      `${v}.${ivText}.${toBase64Url(ct.subarray(0, ct.length - 1))}`,
      `${v}.${ivText}.${toBase64Url(ct.subarray(0, 15))}`,
      `${v}.${ivText}.`,
      `v2.${ivText}.${ctText}`,
      `${ivText}.${ctText}`,
      '',
      `${v}.${ivText}.${ctText}=`,
      `${sealed}.junk`,
    ];
    for (const s of bad) assert.throws(() => box.open(s), Error, s);
    assert.throws(() => aesGcmBox(new Uint8Array(32).fill(1), 'other').open(sealed), 'another key cannot open it');
  });

  test('key file: created 0600 on first use, same key across instances', () => {
    const dir = freshDir();
    const a = keyFileSecretBox(dir);
    assert.equal(a.kind, 'key-file');
    const file = join(dir, STORAGE_KEY_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const content = readFileSync(file, 'utf8');
    const parsed = JSON.parse(content);
    assert.equal(fromBase64Url(parsed.key).length, 32);
    const sealed = a.seal(utf8.encode('hello'));
    const b = keyFileSecretBox(dir);
    assert.deepEqual(utf8.decode(b.open(sealed)), 'hello');
    assert.equal(readFileSync(file, 'utf8'), content, 'the key file is not rewritten');
    assert.deepEqual(readdirSync(dir), [STORAGE_KEY_FILE], 'no temp files left');
    assert.throws(() => keyFileSecretBox(freshDir()).open(sealed), 'another data dir has another key');
  });

  test('key file readable by others is refused', () => {
    const dir = freshDir();
    keyFileSecretBox(dir);
    chmodSync(join(dir, STORAGE_KEY_FILE), 0o644);
    assert.throws(() => keyFileSecretBox(dir), /chmod 600/);
  });

  test('corrupt key file is an error naming it, and is not replaced', () => {
    const dir = freshDir();
    const file = join(dir, STORAGE_KEY_FILE);
    writeFileSync(file, '{"version":1,"key":', { mode: 0o600 });
    assert.throws(
      () => keyFileSecretBox(dir),
      (err: Error) => err.message.includes(file),
    );
    assert.equal(readFileSync(file, 'utf8'), '{"version":1,"key":');
  });
});
