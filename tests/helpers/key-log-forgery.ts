// What an operator with the cloud's database can do to its key log, for the tests that check it is caught:
// rewrite an entry in place (hashes recomputed, so the tree is consistent with itself, not with any head a node
// kept), and give a device a new key in the directory with a matching entry appended.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { toBase64Url } from '../../src/shared/encoding.js';
import { hashOfLeaf, type KeyLogLeaf, leafBytes, leafContentHash, leafTag } from '../../src/shared/transparency/key-log.js';

function withDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, 'cloud.db'));
  try {
    return db.transaction(() => fn(db))();
  } finally {
    db.close();
  }
}

/** Rewrites the first entry of the log with `change` applied; returns the leaf it held, to put back with `restore`. */
export function rewriteFirstLeaf(dataDir: string, change: (leaf: KeyLogLeaf) => KeyLogLeaf): KeyLogLeaf {
  return withDb(dataDir, (db) => {
    const row = db.prepare('SELECT seq, leaf FROM key_log ORDER BY seq LIMIT 1').get() as { seq: number; leaf: string };
    const original = JSON.parse(row.leaf) as KeyLogLeaf;
    setLeaf(db, row.seq, change(original));
    return original;
  });
}

/** Puts a leaf back as entry 0 (the first). */
export function restoreFirstLeaf(dataDir: string, leaf: KeyLogLeaf): void {
  withDb(dataDir, (db) => setLeaf(db, 1, leaf));
}

function setLeaf(db: Database.Database, seq: number, leaf: KeyLogLeaf): void {
  db.prepare('UPDATE key_log SET leaf = ?, leaf_hash = ?, content_hash = ? WHERE seq = ?').run(
    new TextDecoder().decode(leafBytes(leaf)),
    toBase64Url(hashOfLeaf(leaf, seq - 1)),
    toBase64Url(leafContentHash(leaf)),
    seq,
  );
}

/** A new key for `deviceId` in the directory, and the publish entry that says so appended to the log. */
export function forgeKey(dataDir: string, deviceId: string, publicKey: string): void {
  withDb(dataDir, (db) => {
    const row = db.prepare('SELECT node FROM directory_devices WHERE device_id = ?').get(deviceId) as { node: string };
    db.prepare('UPDATE directory_devices SET public_key = ? WHERE device_id = ?').run(publicKey, deviceId);
    const seq = (db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM key_log').get() as { n: number }).n + 1;
    const leaf: KeyLogLeaf = { op: 'publish', device_id: deviceId, node: row.node, public_key: publicKey, at: new Date().toISOString() };
    db.prepare('INSERT INTO key_log (seq, device_id, leaf, leaf_hash, tag, content_hash) VALUES (?, ?, ?, ?, ?, ?)').run(
      seq,
      deviceId,
      new TextDecoder().decode(leafBytes(leaf)),
      toBase64Url(hashOfLeaf(leaf, seq - 1)),
      toBase64Url(leafTag(deviceId, seq - 1)),
      toBase64Url(leafContentHash(leaf)),
    );
  });
}
