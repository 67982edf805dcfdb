// The key directory's append-only log (docs/key-transparency.md): every publish, key change and removal of a
// device is a leaf of an RFC 9162 Merkle tree, in the same commit as the change itself. The cloud signs each
// head (size + root) with its static key; it proves that a device's current entry is in the tree (inclusion)
// and that a newer head extends an older one (consistency), so nodes that keep the heads they saw can catch a
// cloud that shows different keys to different people or rewrites what it said.
import type { Statement } from 'better-sqlite3';
import type { KeyPair } from '../shared/crypto/noise/index.js';
import { fromBase64Url, toBase64Url } from '../shared/encoding.js';
import { type KeyLogHead, type KeyLogLeaf, leafBytes, signHead } from '../shared/transparency/key-log.js';
import { consistencyProof, inclusionProof, leafHash, rootOf } from '../shared/transparency/merkle.js';
import { type CloudDb, sqliteOf } from './db/open.js';
import { CloudError } from './errors.js';

export interface KeyLogProof {
  device_id: string;
  index: number;
  leaf: KeyLogLeaf;
  proof: string[];
}

export class KeyLog {
  private readonly q: {
    insert: Statement<[string, string, string]>;
    hashes: Statement<[], string>;
    latest: Statement<[string], { seq: number; leaf: string }>;
    unlogged: Statement<[], { deviceId: string; node: string; publicKey: string; updatedAt: string }>;
  };

  constructor(
    db: CloudDb,
    private readonly staticKey: KeyPair,
  ) {
    const s = sqliteOf(db);
    this.q = {
      insert: s.prepare('INSERT INTO key_log (device_id, leaf, leaf_hash) VALUES (?, ?, ?)'),
      hashes: s.prepare<[], string>('SELECT leaf_hash FROM key_log ORDER BY seq').pluck(),
      latest: s.prepare('SELECT seq, leaf FROM key_log WHERE device_id = ? ORDER BY seq DESC LIMIT 1'),
      // Devices whose current key has no publish leaf: those published before the log existed.
      unlogged: s.prepare(
        'SELECT d.device_id AS deviceId, d.node AS node, d.public_key AS publicKey, d.updated_at AS updatedAt FROM directory_devices d ' +
          "WHERE NOT EXISTS (SELECT 1 FROM key_log l WHERE l.device_id = d.device_id AND json_extract(l.leaf, '$.op') = 'publish' " +
          "AND json_extract(l.leaf, '$.public_key') = d.public_key AND json_extract(l.leaf, '$.node') = d.node) ORDER BY d.device_id",
      ),
    };
  }

  /** Appends one leaf; call inside the transaction of the change it records. */
  append(leaf: KeyLogLeaf): void {
    const bytes = leafBytes(leaf);
    this.q.insert.run(leaf.device_id, new TextDecoder().decode(bytes), toBase64Url(leafHash(bytes)));
  }

  /** A directory that predates the log: its devices become publish leaves once (at start). Returns how many. */
  backfill(): number {
    const rows = this.q.unlogged.all();
    for (const r of rows) this.append({ op: 'publish', device_id: r.deviceId, node: r.node, public_key: r.publicKey, at: r.updatedAt });
    return rows.length;
  }

  private leafHashes(): Uint8Array[] {
    return this.q.hashes.all().map(fromBase64Url);
  }

  private signed(hashes: readonly Uint8Array[]): KeyLogHead {
    return signHead(this.staticKey.privateKey, hashes.length, rootOf(hashes));
  }

  /** The signed head of the whole log now. */
  head(): KeyLogHead {
    return this.signed(this.leafHashes());
  }

  /**
   * For each device, its latest leaf and the proof that it is in the tree of `head` (read in one go, so head and
   * proofs agree). Devices with no leaf are left out.
   */
  proofs(deviceIds: readonly string[]): { head: KeyLogHead; entries: KeyLogProof[] } {
    const hashes = this.leafHashes();
    const head = this.signed(hashes);
    const entries: KeyLogProof[] = [];
    for (const id of deviceIds) {
      const row = this.q.latest.get(id);
      if (!row) continue;
      const index = row.seq - 1;
      entries.push({
        device_id: id,
        index,
        leaf: JSON.parse(row.leaf) as KeyLogLeaf,
        proof: inclusionProof(hashes, index).map(toBase64Url),
      });
    }
    return { head, entries };
  }

  /** The proof that the tree of `first` leaves is a prefix of the tree of `second` leaves. */
  consistency(first: number, second: number): string[] {
    const hashes = this.leafHashes();
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second || second > hashes.length) {
      throw new CloudError(400, 'invalid_request', `from and to must be sizes with 0 <= from <= to <= ${hashes.length} (the log's size).`);
    }
    return consistencyProof(hashes, first, second).map(toBase64Url);
  }
}
