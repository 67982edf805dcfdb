// The key directory: which devices exist, their public keys, and which node serves each (docs/cloud.md "Key
// directory"). Nodes publish; everyone logged in reads it to seal envelopes, and the relay routes by it.
// Public keys only: the cloud never sees a private key.

import {
  type DeviceReplacement,
  type DirectoryDevice,
  type DirectoryEntry,
  MAX_PUBLISHED_PER_NODE,
  type PublishRefusal,
} from '../shared/wire/relay.js';
import { type CloudSql, marks, type SqlQuery, type SqlValue } from './db/sql.js';
import { CloudError } from './errors.js';
import type { KeyLog } from './key-log.js';
import { DIRECTORY_LOCK, listReplacements, publishReplacements } from './key-replacements.js';
import { dropPrekeysOf } from './prekey-directory.js';

type Row = { deviceId: string; node: string; publicKey: string; name: string; kind: DirectoryEntry['kind']; updatedAt: string };
const COLUMNS = 'device_id AS "deviceId", node, public_key AS "publicKey", name, kind, updated_at AS "updatedAt"';

const toEntry = (r: Row): DirectoryEntry => ({
  device_id: r.deviceId,
  public_key: r.publicKey,
  name: r.name,
  kind: r.kind,
  node: r.node,
  updated_at: r.updatedAt,
});

/** A page of a node's set: the device ids after `after` up to and including `through` (null: no bound). */
export interface PublishRange {
  after: string | null;
  through: string | null;
}
export interface PublishResult {
  devices: DirectoryEntry[];
  refused: PublishRefusal[];
}

// Device ids are ASCII (DeviceId), so JS string order is the databases' byte order (SQLite BINARY; the
// PostgreSQL columns are COLLATE "C").
const inRange = (id: string, r: PublishRange) => (r.after === null || id > r.after) && (r.through === null || id <= r.through);
/** `node = ?` and the range, as SQL and its parameters. */
function scopeWhere(node: string, r: PublishRange | undefined): { where: string; params: SqlValue[] } {
  let where = 'node = ?';
  const params: SqlValue[] = [node];
  if (r?.after != null) {
    where += ' AND device_id > ?';
    params.push(r.after);
  }
  if (r?.through != null) {
    where += ' AND device_id <= ?';
    params.push(r.through);
  }
  return { where, params };
}

/** Most device -> node entries nodesOf() keeps in memory before it starts over. */
const NODE_CACHE_MAX = 10_000;

export class KeyDirectory {
  /**
   * device id -> serving node, as last read: the relay asks for the sender and recipients of every envelope.
   * Only with the embedded SQLite store, where this instance is the table's one writer and publish() empties it;
   * instances sharing PostgreSQL read the table every time (another instance may have changed it).
   */
  private readonly nodeCache: Map<string, string> | null;

  constructor(
    private readonly sql: CloudSql,
    /** Where every publish, key change and removal is appended, in the same commit. */
    private readonly log: KeyLog | undefined,
    private readonly now: () => number = Date.now,
    private readonly maxPerNode = MAX_PUBLISHED_PER_NODE,
  ) {
    this.nodeCache = sql.dialect === 'sqlite' ? new Map() : null;
  }

  /** `node` says which older ids its devices replaced (re-paired): what the cloud kept of it (key-replacements.ts). */
  publishReplacements(node: string, list: readonly DeviceReplacement[]): Promise<DeviceReplacement[]> {
    return publishReplacements(this.sql, node, list, new Date(this.now()).toISOString());
  }

  /** The replaced ids of the devices published now by the nodes in `visible`. */
  replacements(visible: ReadonlySet<string>): Promise<DeviceReplacement[]> {
    return listReplacements(this.sql, visible);
  }

  /**
   * Replaces `node`'s published entries, in one transaction: all of them, or with `range` only those with
   * `after` < device_id <= `through` (a page of a larger set). Each device stands on its own: an id another
   * node publishes is refused (device_id_taken), and so are devices past the node's cap (device_limit_reached,
   * the highest ids of the request first); the others are published. An unchanged entry keeps its updated_at,
   * so readers can tell which keys really moved.
   */
  async publish(node: string, devices: readonly DirectoryDevice[], range?: PublishRange): Promise<PublishResult> {
    const ids = devices.map((d) => d.device_id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup !== undefined) throw new CloudError(400, 'invalid_request', `device ${dup} is listed twice.`);
    const outside = range ? ids.find((id) => !inRange(id, range)) : undefined;
    if (outside !== undefined) throw new CloudError(400, 'invalid_request', `device ${outside} is outside the request's range.`);
    if (range && range.after !== null && range.through !== null && range.after >= range.through) {
      throw new CloudError(400, 'invalid_request', 'range.after must come before range.through.');
    }
    const at = new Date(this.now()).toISOString();
    try {
      return await this.replace(node, devices, ids, at, range);
    } finally {
      this.nodeCache?.clear();
    }
  }

  private replace(
    node: string,
    devices: readonly DirectoryDevice[],
    ids: string[],
    at: string,
    range: PublishRange | undefined,
  ): Promise<PublishResult> {
    return this.sql.tx(async (tx) => {
      await tx.lock(DIRECTORY_LOCK);
      const existing =
        ids.length === 0
          ? []
          : await tx.all<Row>(`SELECT ${COLUMNS} FROM directory_devices WHERE device_id IN (${marks(ids.length)})`, ids);
      const takenBy = new Map(existing.filter((r) => r.node !== node).map((r) => [r.deviceId, r.node]));
      const before = new Map(existing.filter((r) => r.node === node).map((r) => [r.deviceId, r]));
      const scope = scopeWhere(node, range);
      const wasInScope = await tx.all<{ deviceId: string; publicKey: string }>(
        `SELECT device_id AS "deviceId", public_key AS "publicKey" FROM directory_devices WHERE ${scope.where}`,
        scope.params,
      );
      await tx.run(`DELETE FROM directory_devices WHERE ${scope.where}`, scope.params);
      // What stays outside the range counts against the cap too.
      const kept = range ? (await tx.get<{ n: number }>('SELECT count(*) AS n FROM directory_devices WHERE node = ?', [node]))!.n : 0;
      const room = Math.max(0, this.maxPerNode - kept);
      const refused: PublishRefusal[] = [];
      const free = [...devices]
        .filter((d) => {
          if (!takenBy.has(d.device_id)) return true;
          refused.push({
            device_id: d.device_id,
            error: 'device_id_taken',
            message: `device ${d.device_id} is published by another node.`,
          });
          return false;
        })
        .sort((x, y) => (x.device_id < y.device_id ? -1 : 1));
      for (const d of free.slice(room)) {
        refused.push({
          device_id: d.device_id,
          error: 'device_limit_reached',
          message: `a node publishes at most ${this.maxPerNode} devices; ${d.device_id} is past that.`,
        });
      }
      for (const d of free.slice(0, room)) {
        const old = before.get(d.device_id);
        const same = old && old.publicKey === d.public_key && old.name === d.name && old.kind === d.kind;
        await tx.run('INSERT INTO directory_devices (device_id, node, public_key, name, kind, updated_at) VALUES (?, ?, ?, ?, ?, ?)', [
          d.device_id,
          node,
          d.public_key,
          d.name,
          d.kind,
          same ? old.updatedAt : at,
        ]);
        await tx.run('INSERT INTO device_id_origins (device_id, node, first_published_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [
          d.device_id,
          node,
          at,
        ]);
      }
      const stored = (
        await tx.all<Row>(`SELECT ${COLUMNS} FROM directory_devices WHERE ${scope.where} ORDER BY device_id`, scope.params)
      ).map(toEntry);
      // A device that left the directory, or came back under another key, takes its prekeys with it: what it
      // signed no longer verifies under its entry.
      const keyNow = new Map(stored.map((e) => [e.device_id, e.public_key]));
      if (this.log) {
        const keyBefore = new Map(wasInScope.map((r) => [r.deviceId, r.publicKey]));
        for (const [id, key] of keyNow)
          if (keyBefore.get(id) !== key) await this.log.append(tx, { op: 'publish', device_id: id, node, public_key: key, at });
        for (const id of keyBefore.keys())
          if (!keyNow.has(id)) await this.log.append(tx, { op: 'remove', device_id: id, node, public_key: null, at });
      }
      await dropPrekeysOf(
        tx,
        wasInScope.filter((r) => keyNow.get(r.deviceId) !== r.publicKey).map((r) => r.deviceId),
      );
      return { devices: stored, refused };
    });
  }

  /** The whole directory: the operator's view (tests, checks); a node is only ever served list(). */
  async all(): Promise<DirectoryEntry[]> {
    return (await this.sql.all<Row>(`SELECT ${COLUMNS} FROM directory_devices ORDER BY device_id`)).map(toEntry);
  }

  /** The devices published by the nodes in `visible` (the caller's household and contacts), nothing else. */
  async list(visible: ReadonlySet<string>): Promise<DirectoryEntry[]> {
    if (visible.size === 0) return [];
    const nodes = [...visible];
    return (
      await this.sql.all<Row>(`SELECT ${COLUMNS} FROM directory_devices WHERE node IN (${marks(nodes.length)}) ORDER BY device_id`, nodes)
    ).map(toEntry);
  }

  /** device id -> serving node, for the ids that are published (the rest are simply missing). */
  async nodesOf(deviceIds: readonly string[], q: SqlQuery = this.sql): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const cache = this.nodeCache;
    const missing = cache ? deviceIds.filter((id) => !cache.has(id)) : [...new Set(deviceIds)];
    if (missing.length > 0) {
      const rows = await q.all<{ id: string; node: string }>(
        `SELECT device_id AS id, node FROM directory_devices WHERE device_id IN (${marks(missing.length)})`,
        missing,
      );
      for (const r of rows) {
        out.set(r.id, r.node);
        if (cache) {
          if (cache.size >= NODE_CACHE_MAX) cache.clear();
          cache.set(r.id, r.node);
        }
      }
    }
    if (cache)
      for (const id of deviceIds) {
        const node = cache.get(id);
        if (node !== undefined) out.set(id, node);
      }
    return out;
  }
}
