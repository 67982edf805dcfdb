// The key directory's append-only log (docs/key-transparency.md): every publish, key change and removal of a
// device is a leaf of an RFC 9162 Merkle tree, in the same commit as the change itself. The cloud signs each
// head (size + root) with its static key; it proves that a device's current entry is in the tree (inclusion)
// and that a newer head extends an older one (consistency), so nodes that keep the heads they saw can catch a
// cloud that shows different keys to different people or rewrites what it said.
import type { Statement } from 'better-sqlite3';
import type { KeyPair } from '../shared/crypto/noise/index.js';
import { fromBase64Url, toBase64Url } from '../shared/encoding.js';
import {
  type KeyLogHead,
  type KeyLogLeaf,
  leafBytes,
  leafContentHash,
  leafTag,
  logLeafHash,
  signHead,
} from '../shared/transparency/key-log.js';
import { consistencyProof, inclusionProof, rootOf } from '../shared/transparency/merkle.js';
import { type CloudDb, sqliteOf } from './db/open.js';
import { CloudError } from './errors.js';

export interface KeyLogProof {
  device_id: string;
  index: number;
  leaf: KeyLogLeaf;
  proof: string[];
}

/** Most entries one GET /api/keys/log/hashes answers (a node that is far behind pages through). */
export const MAX_HASHES_PER_PAGE = 4096;

export class KeyLog {
  private readonly q: {
    insert: Statement<[number, string, string, string, string, string]>;
    size: Statement<[], number>;
    hashes: Statement<[], string>;
    range: Statement<[number, number], { tag: string; contentHash: string }>;
    leafAt: Statement<[number], { leaf: string }>;
    untagged: Statement<[], { seq: number; leaf: string }>;
    setTag: Statement<[string, string, string, number]>;
    latest: Statement<[string], { seq: number; leaf: string }>;
    unlogged: Statement<[], { deviceId: string; node: string; publicKey: string; updatedAt: string }>;
  };

  constructor(
    db: CloudDb,
    private readonly staticKey: KeyPair,
  ) {
    const s = sqliteOf(db);
    this.q = {
      insert: s.prepare('INSERT INTO key_log (seq, device_id, leaf, leaf_hash, tag, content_hash) VALUES (?, ?, ?, ?, ?, ?)'),
      // Rows are never deleted, so the largest seq is the log's size (seq = index + 1).
      size: s.prepare<[], number>('SELECT COALESCE(MAX(seq), 0) FROM key_log').pluck(),
      hashes: s.prepare<[], string>('SELECT leaf_hash FROM key_log ORDER BY seq').pluck(),
      range: s.prepare('SELECT tag, content_hash AS contentHash FROM key_log WHERE seq > ? AND seq <= ? ORDER BY seq'),
      leafAt: s.prepare('SELECT leaf FROM key_log WHERE seq = ?'),
      untagged: s.prepare('SELECT seq, leaf FROM key_log WHERE tag IS NULL ORDER BY seq'),
      setTag: s.prepare('UPDATE key_log SET leaf_hash = ?, tag = ?, content_hash = ? WHERE seq = ?'),
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
    const seq = this.q.size.get()! + 1;
    const tag = leafTag(leaf.device_id, seq - 1);
    const content = leafContentHash(leaf);
    const json = new TextDecoder().decode(leafBytes(leaf));
    this.q.insert.run(seq, leaf.device_id, json, toBase64Url(logLeafHash(tag, content)), toBase64Url(tag), toBase64Url(content));
  }

  /**
   * At start: entries written before the tree committed to device tags get their tag and hashes (the same
   * leaves, in the same order: the history is kept, only its hashing changes, and no node kept a head then);
   * then a directory that predates the log gets one publish leaf per device. Returns how many leaves were added.
   */
  backfill(): number {
    for (const r of this.q.untagged.all()) {
      const leaf = JSON.parse(r.leaf) as KeyLogLeaf;
      const tag = leafTag(leaf.device_id, r.seq - 1);
      const content = leafContentHash(leaf);
      this.q.setTag.run(toBase64Url(logLeafHash(tag, content)), toBase64Url(tag), toBase64Url(content), r.seq);
    }
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

  /**
   * Entries `from` to `to` (indices from inclusive, to exclusive) as their device tag and content hash: what a
   * node appends to the compact range it keeps, to compute the next head's root itself and find its own devices'
   * entries. The caller's head bounds `to`; a page holds at most MAX_HASHES_PER_PAGE.
   */
  hashes(from: number, to: number): { tag: string; content: string }[] {
    const size = this.q.size.get()!;
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to || to > size) {
      throw new CloudError(400, 'invalid_request', `from and to must be sizes with 0 <= from <= to <= ${size} (the log's size).`);
    }
    if (to - from > MAX_HASHES_PER_PAGE) {
      throw new CloudError(400, 'invalid_request', `at most ${MAX_HASHES_PER_PAGE} entries per call: page through the log.`);
    }
    return this.q.range.all(from, to).map((r) => ({ tag: r.tag, content: r.contentHash }));
  }

  /** The leaves at these indices (unknown indices are left out). */
  leaves(indices: readonly number[]): { index: number; leaf: KeyLogLeaf }[] {
    return indices.flatMap((index) => {
      const row = this.q.leafAt.get(index + 1);
      return row ? [{ index, leaf: JSON.parse(row.leaf) as KeyLogLeaf }] : [];
    });
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
