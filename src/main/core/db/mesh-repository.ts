// mesh_nodes: this node's own row and every paired device. All writes are upserts keyed by node id,
// so re-announcing or re-pairing never creates a second row for one device.
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Db } from './open-database.js';
import { meshNodes } from './schema.js';

export type MeshNodeRow = typeof meshNodes.$inferSelect;

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

/** Most recent first, deduplicated, bounded: a peer's address history must not grow without limit. */
export function mergeAddresses(fresh: readonly string[], known: readonly string[], max = 16): string[] {
  return [...new Set([...fresh, ...known])].slice(0, max);
}

export class MeshRepository {
  constructor(private readonly db: Db) {}

  upsertSelf(self: { id: string; name: string; hostname: string; port: number; capabilities: string[]; publicKey: string; addresses: string[] }): void {
    const now = new Date().toISOString();
    this.db.transaction((tx) => {
      // A data dir keeps one identity, but be safe if an older row claims to be current.
      tx.update(meshNodes).set({ isCurrent: false }).where(and(eq(meshNodes.isCurrent, true), sql`${meshNodes.id} <> ${self.id}`)).run();
      tx.insert(meshNodes).values({
        id: self.id, name: self.name, hostname: self.hostname, port: self.port, status: 'online', kind: 'desktop',
        capabilities: self.capabilities, lastSeen: now, createdAt: now, metadata: {}, isCurrent: true,
        publicKey: self.publicKey, addresses: self.addresses,
      }).onConflictDoUpdate({
        target: meshNodes.id,
        set: {
          name: self.name, hostname: self.hostname, port: self.port, status: 'online', capabilities: self.capabilities,
          lastSeen: now, isCurrent: true, publicKey: self.publicKey, addresses: self.addresses,
        },
      }).run();
    });
  }

  upsertPeer(p: MeshNodeUpsert): MeshNodeRow {
    const now = new Date().toISOString();
    return this.db.transaction((tx) => {
      const existing = tx.select().from(meshNodes).where(eq(meshNodes.id, p.id)).get();
      if (existing?.isCurrent) throw new Error('a peer cannot claim this node\'s own id');
      const addresses = mergeAddresses(p.addresses ?? [], existing?.addresses ?? []);
      const values = {
        name: p.name,
        kind: p.kind,
        hostname: p.hostname !== undefined ? p.hostname : existing?.hostname ?? null,
        port: p.port !== undefined ? p.port : existing?.port ?? null,
        capabilities: p.capabilities ?? existing?.capabilities ?? [],
        metadata: p.metadata ?? existing?.metadata ?? {},
        publicKey: p.publicKey !== undefined ? p.publicKey : existing?.publicKey ?? null,
        addresses,
        pairedAt: p.paired ? now : existing?.pairedAt ?? null,
        lastSeen: p.seen ? now : existing?.lastSeen ?? null,
        status: (p.seen ? 'online' : existing?.status ?? 'offline') as 'online' | 'offline',
      };
      if (existing) {
        tx.update(meshNodes).set(values).where(eq(meshNodes.id, p.id)).run();
      } else {
        tx.insert(meshNodes).values({ id: p.id, createdAt: now, isCurrent: false, ...values }).run();
      }
      return tx.select().from(meshNodes).where(eq(meshNodes.id, p.id)).get()!;
    });
  }

  /** Records that a peer was heard from, with the addresses it was seen on. Returns false if unknown. */
  touch(id: string, addresses: readonly string[]): boolean {
    const existing = this.get(id);
    if (!existing || existing.isCurrent) return false;
    this.db.update(meshNodes).set({
      lastSeen: new Date().toISOString(),
      status: 'online',
      addresses: mergeAddresses(addresses, existing.addresses),
    }).where(eq(meshNodes.id, id)).run();
    return true;
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
    return this.db.delete(meshNodes).where(and(eq(meshNodes.id, id), eq(meshNodes.isCurrent, false))).run().changes > 0;
  }

  /** Flips peers not heard from since `cutoffIso` to offline; returns how many changed. */
  markSilentOffline(cutoffIso: string): number {
    return this.db.update(meshNodes).set({ status: 'offline' })
      .where(and(eq(meshNodes.isCurrent, false), eq(meshNodes.status, 'online'), lt(meshNodes.lastSeen, cutoffIso)))
      .run().changes;
  }
}
