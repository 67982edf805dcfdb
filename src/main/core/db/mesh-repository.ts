// mesh_nodes: this node's own row and every paired device. All writes are upserts keyed by node id,
// so re-announcing or re-pairing never creates a second row for one device.
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { MAX_REPLACED_IDS } from '../../../shared/wire/relay.js';
import type { Db } from './open-database.js';
import { deviceReplacements, meshNodes } from './schema.js';

export type MeshNodeRow = typeof meshNodes.$inferSelect;

/** Why a re-pair replaced an older row: (a) key_changed, (b) node_id_changed, (c) same_device. */
export type ReplaceReason = 'key_changed' | 'node_id_changed' | 'same_device';

export interface MeshNodeUpsert {
  id: string;
  name: string;
  kind: 'desktop' | 'phone';
  hostname?: string | null;
  port?: number | null;
  capabilities?: string[];
  metadata?: Record<string, unknown>;
  publicKey?: string | null;
  addresses?: string[];
  /** Marks the row as (re)paired now. */
  paired?: boolean;
  /** Marks the row as heard from now (online). */
  seen?: boolean;
}

/**
 * Names Salita's clients give a device by default (the phone page names it from the browser: "iPhone",
 * "Android phone", "Linux device"...). Two different phones in one home easily
 * share one of these, so such a name is no evidence of "the same device": the same-name rule (c) skips them,
 * or pairing a second Android phone would silently cut off the first.
 */
export function isGenericDeviceName(name: string): boolean {
  const n = name.trim().toLowerCase();
  return GENERIC_NAMES.has(n) || GENERIC_DEVICE_PREFIX.test(n);
}
const GENERIC_NAMES = new Set([
  'iphone',
  'ipad',
  'android phone',
  'android tablet',
  'mac',
  'windows pc',
  'my phone',
  'phone',
  'tablet',
  'salita node',
]);
const GENERIC_DEVICE_PREFIX = /^(android|ios|ipados|macos|mac os|windows|linux|chrome ?os|cros|unknown|web) device$/;

/** Most recent first, deduplicated, bounded: a peer's address history must not grow without limit. */
export function mergeAddresses(fresh: readonly string[], known: readonly string[], max = 16): string[] {
  return [...new Set([...fresh, ...known])].slice(0, max);
}

export class MeshRepository {
  constructor(private readonly db: Db) {}

  upsertSelf(self: {
    id: string;
    name: string;
    hostname: string;
    port: number;
    capabilities: string[];
    publicKey: string;
    addresses: string[];
  }): void {
    const now = new Date().toISOString();
    this.db.transaction((tx) => {
      // A data dir keeps one identity, but be safe if an older row claims to be current.
      tx.update(meshNodes)
        .set({ isCurrent: false })
        .where(and(eq(meshNodes.isCurrent, true), sql`${meshNodes.id} <> ${self.id}`))
        .run();
      tx.insert(meshNodes)
        .values({
          id: self.id,
          name: self.name,
          hostname: self.hostname,
          port: self.port,
          status: 'online',
          kind: 'desktop',
          capabilities: self.capabilities,
          lastSeen: now,
          createdAt: now,
          metadata: {},
          isCurrent: true,
          publicKey: self.publicKey,
          addresses: self.addresses,
        })
        .onConflictDoUpdate({
          target: meshNodes.id,
          set: {
            name: self.name,
            hostname: self.hostname,
            port: self.port,
            status: 'online',
            capabilities: self.capabilities,
            lastSeen: now,
            isCurrent: true,
            publicKey: self.publicKey,
            addresses: self.addresses,
          },
        })
        .run();
    });
  }

  upsertPeer(p: MeshNodeUpsert): MeshNodeRow {
    const now = new Date().toISOString();
    return this.db.transaction((tx) => {
      const existing = tx.select().from(meshNodes).where(eq(meshNodes.id, p.id)).get();
      if (existing?.isCurrent) throw new Error("a peer cannot claim this node's own id");
      const addresses = mergeAddresses(p.addresses ?? [], existing?.addresses ?? []);
      const values = {
        name: p.name,
        kind: p.kind,
        hostname: p.hostname !== undefined ? p.hostname : (existing?.hostname ?? null),
        port: p.port !== undefined ? p.port : (existing?.port ?? null),
        capabilities: p.capabilities ?? existing?.capabilities ?? [],
        metadata: p.metadata ?? existing?.metadata ?? {},
        publicKey: p.publicKey !== undefined ? p.publicKey : (existing?.publicKey ?? null),
        addresses,
        pairedAt: p.paired ? now : (existing?.pairedAt ?? null),
        lastSeen: p.seen ? now : (existing?.lastSeen ?? null),
        status: (p.seen ? 'online' : (existing?.status ?? 'offline')) as 'online' | 'offline',
        // Pairing again starts a new pairing: whatever the old one's end was is history.
        ...(p.paired ? { endedByPeerAt: null } : {}),
      };
      if (existing) {
        tx.update(meshNodes).set(values).where(eq(meshNodes.id, p.id)).run();
      } else {
        tx.insert(meshNodes)
          .values({ id: p.id, createdAt: now, isCurrent: false, ...values })
          .run();
      }
      return tx.select().from(meshNodes).where(eq(meshNodes.id, p.id)).get()!;
    });
  }

  /** Records that a peer was heard from, with the addresses it was seen on. Returns false if unknown. */
  touch(id: string, addresses: readonly string[]): boolean {
    const existing = this.get(id);
    if (!existing || existing.isCurrent) return false;
    this.db
      .update(meshNodes)
      .set({
        lastSeen: new Date().toISOString(),
        status: 'online',
        addresses: mergeAddresses(addresses, existing.addresses),
      })
      .where(eq(meshNodes.id, id))
      .run();
    return true;
  }

  /** Adds addresses a peer was seen on (e.g. an mDNS answer) without changing its presence. False if unknown. */
  addAddresses(id: string, addresses: readonly string[]): boolean {
    const existing = this.get(id);
    if (!existing || existing.isCurrent) return false;
    const merged = mergeAddresses(addresses, existing.addresses);
    if (JSON.stringify(merged) === JSON.stringify(existing.addresses)) return true;
    this.db.update(meshNodes).set({ addresses: merged }).where(eq(meshNodes.id, id)).run();
    return true;
  }

  /** Shows a peer offline at once (it said goodbye); it comes back online the next time it is heard. */
  markOffline(id: string): boolean {
    return (
      this.db
        .update(meshNodes)
        .set({ status: 'offline' })
        .where(and(eq(meshNodes.id, id), eq(meshNodes.isCurrent, false), eq(meshNodes.status, 'online')))
        .run().changes > 0
    );
  }

  /**
   * Rows that a newly paired device replaces (re-pair after a reinstall): (a) the same node_id with another key,
   * (b) the same key under another node_id, (c) the same name, kind and device platform under another node_id
   * (not for a generic default name like "Android phone", and not when both report different device host names).
   */
  findReplaced(c: {
    id: string;
    name: string;
    kind: 'desktop' | 'phone';
    publicKey: string;
    platform: unknown;
    hostname?: unknown;
  }): { row: MeshNodeRow; reason: ReplaceReason }[] {
    const out: { row: MeshNodeRow; reason: ReplaceReason }[] = [];
    const sameName = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();
    // Two desktops that both report a host name and report different ones are two machines, whatever their names.
    const differs = (a: unknown, b: unknown) => typeof a === 'string' && typeof b === 'string' && a !== b;
    for (const row of this.peers()) {
      if (row.id === c.id) {
        if (row.publicKey && row.publicKey !== c.publicKey) out.push({ row, reason: 'key_changed' });
      } else if (row.publicKey && row.publicKey === c.publicKey) {
        out.push({ row, reason: 'node_id_changed' });
      } else if (
        sameName(row.name, c.name) &&
        !isGenericDeviceName(c.name) &&
        row.kind === c.kind &&
        typeof c.platform === 'string' &&
        c.platform !== '' &&
        row.metadata?.platform === c.platform &&
        !differs(row.metadata?.hostname, c.hostname)
      ) {
        out.push({ row, reason: 'same_device' });
      }
    }
    return out;
  }

  get(id: string): MeshNodeRow | undefined {
    return this.db.select().from(meshNodes).where(eq(meshNodes.id, id)).get();
  }

  self(): MeshNodeRow | undefined {
    return this.db.select().from(meshNodes).where(eq(meshNodes.isCurrent, true)).get();
  }

  peers(): MeshNodeRow[] {
    return this.db.select().from(meshNodes).where(eq(meshNodes.isCurrent, false)).orderBy(meshNodes.name, meshNodes.id).all();
  }

  remove(id: string): boolean {
    return (
      this.db
        .delete(meshNodes)
        .where(and(eq(meshNodes.id, id), eq(meshNodes.isCurrent, false)))
        .run().changes > 0
    );
  }

  /**
   * `oldId` was replaced by `newId` (a re-pair under a new id). What `oldId` had replaced passes on to `newId`,
   * so someone who last knew an older id still recognises the device.
   */
  recordReplacement(oldId: string, newId: string, reason: string, at: string): void {
    this.db.transaction((tx) => {
      tx.update(deviceReplacements).set({ newId }).where(eq(deviceReplacements.newId, oldId)).run();
      tx.insert(deviceReplacements)
        .values({ oldId, newId, reason, replacedAt: at })
        .onConflictDoUpdate({ target: deviceReplacements.oldId, set: { newId, reason, replacedAt: at } })
        .run();
    });
  }

  /** For every device that replaced others, the ids it replaced, latest first (at most MAX_REPLACED_IDS): one read. */
  replacements(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const rows = this.db
      .select({ oldId: deviceReplacements.oldId, newId: deviceReplacements.newId })
      .from(deviceReplacements)
      .orderBy(desc(deviceReplacements.replacedAt))
      .all();
    for (const r of rows) {
      const list = out.get(r.newId) ?? [];
      if (list.length < MAX_REPLACED_IDS) out.set(r.newId, [...list, r.oldId]);
    }
    return out;
  }

  /** The device was unpaired: nobody will see it again, so what it replaced is forgotten too. */
  forgetReplacements(newId: string): void {
    this.db.delete(deviceReplacements).where(eq(deviceReplacements.newId, newId)).run();
  }

  /** The peer told us (over the peer link) that it unpaired us: kept, marked, offline. False if unknown. */
  markEndedByPeer(id: string): boolean {
    return (
      this.db
        .update(meshNodes)
        .set({ endedByPeerAt: new Date().toISOString(), status: 'offline' })
        .where(and(eq(meshNodes.id, id), eq(meshNodes.isCurrent, false)))
        .run().changes > 0
    );
  }

  /** Flips peers not heard from since `cutoffIso` to offline; returns how many changed. */
  markSilentOffline(cutoffIso: string): number {
    return this.db
      .update(meshNodes)
      .set({ status: 'offline' })
      .where(and(eq(meshNodes.isCurrent, false), eq(meshNodes.status, 'online'), lt(meshNodes.lastSeen, cutoffIso)))
      .run().changes;
  }
}
