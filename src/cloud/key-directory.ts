// The key directory: which devices exist, their public keys, and which node serves each (docs/cloud.md "Key
// directory"). Nodes publish; everyone logged in reads it to seal envelopes, and the relay routes by it.
// Public keys only: the cloud never sees a private key.

import type { Statement } from 'better-sqlite3';
import { and, asc, count, eq, gt, inArray, lte, type SQL } from 'drizzle-orm';
import {
  type DeviceReplacement,
  type DirectoryDevice,
  type DirectoryEntry,
  MAX_PUBLISHED_PER_NODE,
  type PublishRefusal,
} from '../shared/wire/relay.js';
import { type CloudDb, sqliteOf } from './db/open.js';
import { deviceIdOrigins, directoryDevices } from './db/schema.js';
import { CloudError } from './errors.js';
import type { KeyLog } from './key-log.js';
import { listReplacements, publishReplacements } from './key-replacements.js';
import { dropPrekeysOf } from './prekey-directory.js';

type Row = typeof directoryDevices.$inferSelect;

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

// Device ids are ASCII (DeviceId), so JS string order is SQLite's BINARY order.
const inRange = (id: string, r: PublishRange) => (r.after === null || id > r.after) && (r.through === null || id <= r.through);
function rangeWhere(r: PublishRange): SQL | undefined {
  return and(
    r.after === null ? undefined : gt(directoryDevices.deviceId, r.after),
    r.through === null ? undefined : lte(directoryDevices.deviceId, r.through),
  );
}

/** Most device -> node entries nodesOf() keeps in memory before it starts over. */
const NODE_CACHE_MAX = 10_000;

export class KeyDirectory {
  /**
   * device id -> serving node, as last read: the relay asks for the sender and recipients of every envelope.
   * Only publish() changes the table (it is the cloud's one writer of it), and it empties the cache.
   */
  private readonly nodeCache = new Map<string, string>();
  private readonly nodeOf: Statement<[string], string>;

  constructor(
    private readonly db: CloudDb,
    /** Where every publish, key change and removal is appended, in the same commit. */
    private readonly log: KeyLog | undefined,
    private readonly now: () => number = Date.now,
    private readonly maxPerNode = MAX_PUBLISHED_PER_NODE,
  ) {
    this.nodeOf = sqliteOf(db).prepare<[string], string>('SELECT node FROM directory_devices WHERE device_id = ?').pluck();
  }

  /** `node` says which older ids its devices replaced (re-paired): what the cloud kept of it (key-replacements.ts). */
  publishReplacements(node: string, list: readonly DeviceReplacement[]): DeviceReplacement[] {
    return publishReplacements(this.db, node, list, new Date(this.now()).toISOString());
  }

  /** The replaced ids of the devices published now by the nodes in `visible`. */
  replacements(visible: ReadonlySet<string>): DeviceReplacement[] {
    return listReplacements(this.db, visible);
  }

  /**
   * Replaces `node`'s published entries, in one transaction: all of them, or with `range` only those with
   * `after` < device_id <= `through` (a page of a larger set). Each device stands on its own: an id another
   * node publishes is refused (device_id_taken), and so are devices past the node's cap (device_limit_reached,
   * the highest ids of the request first); the others are published. An unchanged entry keeps its updated_at,
   * so readers can tell which keys really moved.
   */
  publish(node: string, devices: readonly DirectoryDevice[], range?: PublishRange): PublishResult {
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
      return this.replace(node, devices, ids, at, range);
    } finally {
      this.nodeCache.clear();
    }
  }

  private replace(
    node: string,
    devices: readonly DirectoryDevice[],
    ids: string[],
    at: string,
    range: PublishRange | undefined,
  ): PublishResult {
    return this.db.transaction((tx) => {
      const existing = ids.length === 0 ? [] : tx.select().from(directoryDevices).where(inArray(directoryDevices.deviceId, ids)).all();
      const takenBy = new Map(existing.filter((r) => r.node !== node).map((r) => [r.deviceId, r.node]));
      const before = new Map(existing.filter((r) => r.node === node).map((r) => [r.deviceId, r]));
      const inScope = range ? and(eq(directoryDevices.node, node), rangeWhere(range)) : eq(directoryDevices.node, node);
      const wasInScope = tx
        .select({ deviceId: directoryDevices.deviceId, publicKey: directoryDevices.publicKey })
        .from(directoryDevices)
        .where(inScope)
        .all();
      tx.delete(directoryDevices).where(inScope).run();
      // What stays outside the range counts against the cap too.
      const kept = range ? tx.select({ n: count() }).from(directoryDevices).where(eq(directoryDevices.node, node)).get()!.n : 0;
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
        tx.insert(directoryDevices)
          .values({
            deviceId: d.device_id,
            node,
            publicKey: d.public_key,
            name: d.name,
            kind: d.kind,
            updatedAt: same ? old.updatedAt : at,
          })
          .run();
        tx.insert(deviceIdOrigins).values({ deviceId: d.device_id, node, firstPublishedAt: at }).onConflictDoNothing().run();
      }
      const stored = tx.select().from(directoryDevices).where(inScope).orderBy(asc(directoryDevices.deviceId)).all().map(toEntry);
      // A device that left the directory, or came back under another key, takes its prekeys with it: what it
      // signed no longer verifies under its entry.
      const keyNow = new Map(stored.map((e) => [e.device_id, e.public_key]));
      if (this.log) {
        const keyBefore = new Map(wasInScope.map((r) => [r.deviceId, r.publicKey]));
        for (const [id, key] of keyNow)
          if (keyBefore.get(id) !== key) this.log.append({ op: 'publish', device_id: id, node, public_key: key, at });
        for (const id of keyBefore.keys())
          if (!keyNow.has(id)) this.log.append({ op: 'remove', device_id: id, node, public_key: null, at });
      }
      dropPrekeysOf(
        tx,
        wasInScope.filter((r) => keyNow.get(r.deviceId) !== r.publicKey).map((r) => r.deviceId),
      );
      return { devices: stored, refused };
    });
  }

  /** The whole directory: the operator's view (tests, checks); a node is only ever served list(). */
  all(): DirectoryEntry[] {
    return this.db.select().from(directoryDevices).orderBy(asc(directoryDevices.deviceId)).all().map(toEntry);
  }

  /** The devices published by the nodes in `visible` (the caller's household and contacts), nothing else. */
  list(visible: ReadonlySet<string>): DirectoryEntry[] {
    if (visible.size === 0) return [];
    return this.db
      .select()
      .from(directoryDevices)
      .where(inArray(directoryDevices.node, [...visible]))
      .orderBy(asc(directoryDevices.deviceId))
      .all()
      .map(toEntry);
  }

  /** device id -> serving node, for the ids that are published (the rest are simply missing). */
  nodesOf(deviceIds: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    for (const id of deviceIds) {
      let node = this.nodeCache.get(id);
      if (node === undefined) {
        node = this.nodeOf.get(id);
        if (node === undefined) continue;
        if (this.nodeCache.size >= NODE_CACHE_MAX) this.nodeCache.clear();
        this.nodeCache.set(id, node);
      }
      out.set(id, node);
    }
    return out;
  }
}
