// The key directory: which devices exist, their public keys, and which node serves each (docs/cloud.md "Key
// directory"). Nodes publish; everyone logged in reads it to seal envelopes, and the relay routes by it.
// Public keys only: the cloud never sees a private key.
import { asc, eq, inArray } from 'drizzle-orm';
import type { DirectoryDevice, DirectoryEntry } from '../shared/wire/relay.js';
import type { Statement } from 'better-sqlite3';
import { sqliteOf, type CloudDb } from './db/open.js';
import { directoryDevices } from './db/schema.js';
import { CloudError } from './errors.js';

type Row = typeof directoryDevices.$inferSelect;

const toEntry = (r: Row): DirectoryEntry => ({ device_id: r.deviceId, public_key: r.publicKey, name: r.name, kind: r.kind, node: r.node, updated_at: r.updatedAt });

/** Most device -> node entries nodesOf() keeps in memory before it starts over. */
const NODE_CACHE_MAX = 10_000;

export class KeyDirectory {
  /**
   * device id -> serving node, as last read: the relay asks for the sender and recipients of every envelope.
   * Only publish() changes the table (it is the cloud's one writer of it), and it empties the cache.
   */
  private readonly nodeCache = new Map<string, string>();
  private readonly nodeOf: Statement<[string], string>;

  constructor(private readonly db: CloudDb, private readonly now: () => number = Date.now) {
    this.nodeOf = sqliteOf(db).prepare<[string], string>('SELECT node FROM directory_devices WHERE device_id = ?').pluck();
  }

  /**
   * Replaces `node`'s published set with `devices`, in one transaction: a device id another node publishes
   * refuses the whole request (409 device_id_taken) and nothing changes. An unchanged entry keeps its
   * updated_at, so readers can tell which keys really moved.
   */
  publish(node: string, devices: readonly DirectoryDevice[]): DirectoryEntry[] {
    const ids = devices.map((d) => d.device_id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup !== undefined) throw new CloudError(400, 'invalid_request', `device ${dup} is listed twice.`);
    const at = new Date(this.now()).toISOString();
    try {
      return this.replace(node, devices, ids, at);
    } finally {
      this.nodeCache.clear();
    }
  }

  private replace(node: string, devices: readonly DirectoryDevice[], ids: string[], at: string): DirectoryEntry[] {
    return this.db.transaction((tx) => {
      const existing = ids.length === 0 ? [] : tx.select().from(directoryDevices).where(inArray(directoryDevices.deviceId, ids)).all();
      const taken = existing.find((r) => r.node !== node);
      if (taken) throw new CloudError(409, 'device_id_taken', `device ${taken.deviceId} is published by another node.`);
      const before = new Map(existing.map((r) => [r.deviceId, r]));
      tx.delete(directoryDevices).where(eq(directoryDevices.node, node)).run();
      for (const d of devices) {
        const old = before.get(d.device_id);
        const same = old && old.publicKey === d.public_key && old.name === d.name && old.kind === d.kind;
        tx.insert(directoryDevices).values({
          deviceId: d.device_id, node, publicKey: d.public_key, name: d.name, kind: d.kind,
          updatedAt: same ? old.updatedAt : at,
        }).run();
      }
      return tx.select().from(directoryDevices).where(eq(directoryDevices.node, node)).orderBy(asc(directoryDevices.deviceId)).all().map(toEntry);
    });
  }

  list(): DirectoryEntry[] {
    return this.db.select().from(directoryDevices).orderBy(asc(directoryDevices.deviceId)).all().map(toEntry);
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
