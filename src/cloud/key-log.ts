// The key directory's append-only log (docs/key-transparency.md): every publish, key change and removal of a
// device is a leaf of an RFC 9162 Merkle tree, in the same commit as the change itself. The cloud signs each
// head (size + root) with its static key; it proves that a device's current entry is in the tree (inclusion)
// and that a newer head extends an older one (consistency), so nodes that keep the heads they saw can catch a
// cloud that shows different keys to different people or rewrites what it said.
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
import { type CloudSql, marks, type SqlQuery, type SqlTx } from './db/sql.js';
import { CloudError } from './errors.js';

export interface KeyLogProof {
  device_id: string;
  index: number;
  leaf: KeyLogLeaf;
  proof: string[];
}

/** Most entries one GET /api/keys/log/hashes answers (a node that is far behind pages through). */
export const MAX_HASHES_PER_PAGE = 4096;

/** The lock every append takes: seq is the log's size + 1, so appends go one at a time (across instances too). */
const APPEND_LOCK = 'key_log:append';

const size = async (q: SqlQuery) => (await q.get<{ n: number }>('SELECT COALESCE(MAX(seq), 0) AS n FROM key_log'))!.n;

export class KeyLog {
  constructor(
    private readonly sql: CloudSql,
    private readonly staticKey: KeyPair,
  ) {}

  /** Appends one leaf; call inside the transaction of the change it records. */
  async append(tx: SqlTx, leaf: KeyLogLeaf): Promise<void> {
    await tx.lock(APPEND_LOCK);
    // Rows are never deleted, so the largest seq is the log's size (seq = index + 1).
    const seq = (await size(tx)) + 1;
    const tag = leafTag(leaf.device_id, seq - 1);
    const content = leafContentHash(leaf);
    const json = new TextDecoder().decode(leafBytes(leaf));
    await tx.run('INSERT INTO key_log (seq, device_id, leaf, leaf_hash, tag, content_hash) VALUES (?, ?, ?, ?, ?, ?)', [
      seq,
      leaf.device_id,
      json,
      toBase64Url(logLeafHash(tag, content)),
      toBase64Url(tag),
      toBase64Url(content),
    ]);
  }

  /**
   * At start: entries written before the tree committed to device tags get their tag and hashes (the same
   * leaves, in the same order: the history is kept, only its hashing changes, and no node kept a head then);
   * then a directory that predates the log gets one publish leaf per device. Returns how many leaves were added.
   * One transaction under the append lock: instances starting together backfill once.
   */
  backfill(): Promise<number> {
    return this.sql.tx(async (tx) => {
      await tx.lock(APPEND_LOCK);
      for (const r of await tx.all<{ seq: number; leaf: string }>('SELECT seq, leaf FROM key_log WHERE tag IS NULL ORDER BY seq')) {
        const leaf = JSON.parse(r.leaf) as KeyLogLeaf;
        const tag = leafTag(leaf.device_id, r.seq - 1);
        const content = leafContentHash(leaf);
        await tx.run('UPDATE key_log SET leaf_hash = ?, tag = ?, content_hash = ? WHERE seq = ?', [
          toBase64Url(logLeafHash(tag, content)),
          toBase64Url(tag),
          toBase64Url(content),
          r.seq,
        ]);
      }
      // Devices whose current key has no publish leaf: those published before the log existed. The leaves are
      // matched here rather than in SQL, where reading JSON differs between SQLite and PostgreSQL.
      const rows = await tx.all<{ deviceId: string; node: string; publicKey: string; updatedAt: string; leaf: string | null }>(
        'SELECT d.device_id AS "deviceId", d.node AS node, d.public_key AS "publicKey", d.updated_at AS "updatedAt", l.leaf AS leaf ' +
          'FROM directory_devices d LEFT JOIN key_log l ON l.device_id = d.device_id ORDER BY d.device_id, l.seq',
      );
      const logged = new Set<string>();
      for (const r of rows) {
        if (r.leaf === null) continue;
        const l = JSON.parse(r.leaf) as KeyLogLeaf;
        if (l.op === 'publish' && l.public_key === r.publicKey && l.node === r.node) logged.add(r.deviceId);
      }
      const missing = [...new Map(rows.filter((r) => !logged.has(r.deviceId)).map((r) => [r.deviceId, r])).values()];
      for (const r of missing)
        await this.append(tx, { op: 'publish', device_id: r.deviceId, node: r.node, public_key: r.publicKey, at: r.updatedAt });
      return missing.length;
    });
  }

  private async leafHashes(q: SqlQuery = this.sql): Promise<Uint8Array[]> {
    return (await q.all<{ h: string }>('SELECT leaf_hash AS h FROM key_log ORDER BY seq')).map((r) => fromBase64Url(r.h));
  }

  private signed(hashes: readonly Uint8Array[]): KeyLogHead {
    return signHead(this.staticKey.privateKey, hashes.length, rootOf(hashes));
  }

  /** The signed head of the whole log now. */
  async head(): Promise<KeyLogHead> {
    return this.signed(await this.leafHashes());
  }

  /**
   * For each device, its latest leaf and the proof that it is in the tree of `head` (read in one transaction, so
   * head and proofs agree).
   * Devices with no leaf are left out.
   */
  proofs(deviceIds: readonly string[]): Promise<{ head: KeyLogHead; entries: KeyLogProof[] }> {
    return this.sql.tx(async (tx) => {
      // The append lock: on PostgreSQL each statement sees what committed before it, so without it an append
      // between the two reads would give a leaf past the head.
      await tx.lock(APPEND_LOCK);
      const hashes = await this.leafHashes(tx);
      const head = this.signed(hashes);
      const ids = [...new Set(deviceIds)];
      // Each device's latest leaf, in one read.
      const latest =
        ids.length === 0
          ? []
          : await tx.all<{ deviceId: string; seq: number; leaf: string }>(
              'SELECT device_id AS "deviceId", seq, leaf FROM key_log WHERE seq IN ' +
                `(SELECT max(seq) FROM key_log WHERE device_id IN (${marks(ids.length)}) GROUP BY device_id)`,
              ids,
            );
      const byId = new Map(latest.map((r) => [r.deviceId, r]));
      const entries: KeyLogProof[] = [];
      for (const id of deviceIds) {
        const row = byId.get(id);
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
    });
  }

  /**
   * Entries `from` to `to` (indices from inclusive, to exclusive) as their device tag and content hash: what a
   * node appends to the compact range it keeps, to compute the next head's root itself and find its own devices'
   * entries. The caller's head bounds `to`; a page holds at most MAX_HASHES_PER_PAGE.
   */
  async hashes(from: number, to: number): Promise<{ tag: string; content: string }[]> {
    const n = await size(this.sql);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to || to > n) {
      throw new CloudError(400, 'invalid_request', `from and to must be sizes with 0 <= from <= to <= ${n} (the log's size).`);
    }
    if (to - from > MAX_HASHES_PER_PAGE) {
      throw new CloudError(400, 'invalid_request', `at most ${MAX_HASHES_PER_PAGE} entries per call: page through the log.`);
    }
    const rows = await this.sql.all<{ tag: string; contentHash: string }>(
      'SELECT tag, content_hash AS "contentHash" FROM key_log WHERE seq > ? AND seq <= ? ORDER BY seq',
      [from, to],
    );
    return rows.map((r) => ({ tag: r.tag, content: r.contentHash }));
  }

  /** The leaves at these indices (unknown indices are left out). */
  async leaves(indices: readonly number[]): Promise<{ index: number; leaf: KeyLogLeaf }[]> {
    const seqs = [...new Set(indices.map((i) => i + 1))];
    if (seqs.length === 0) return [];
    const rows = await this.sql.all<{ seq: number; leaf: string }>(
      `SELECT seq, leaf FROM key_log WHERE seq IN (${marks(seqs.length)})`,
      seqs,
    );
    const bySeq = new Map(rows.map((r) => [r.seq, r.leaf]));
    return indices.flatMap((index) => {
      const leaf = bySeq.get(index + 1);
      return leaf === undefined ? [] : [{ index, leaf: JSON.parse(leaf) as KeyLogLeaf }];
    });
  }

  /** The proof that the tree of `first` leaves is a prefix of the tree of `second` leaves. */
  async consistency(first: number, second: number): Promise<string[]> {
    const hashes = await this.leafHashes();
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second || second > hashes.length) {
      throw new CloudError(400, 'invalid_request', `from and to must be sizes with 0 <= from <= to <= ${hashes.length} (the log's size).`);
    }
    return consistencyProof(hashes, first, second).map(toBase64Url);
  }
}
