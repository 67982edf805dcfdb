// The relay's durable state (docs/cloud.md "Relay"): accepted envelopes and one ordered queue per recipient
// node. Every method is synchronous and expects to run inside the caller's transaction (RelayWriter's group
// commit), so a frame's whole effect commits or none of it does.
import { createHash } from 'node:crypto';
import { and, asc, eq, gt, lt, sql } from 'drizzle-orm';
import type { Envelope } from '../shared/e2ee/index.js';
import type { RelayRejectCode } from '../shared/wire/relay.js';
import type { CloudDb } from './db/open.js';
import { relayDelivered, relayEnvelopes, relayQueue } from './db/schema.js';
import type { KeyDirectory } from './key-directory.js';

/** What a `send` came to. `touched`: nodes whose queue got new rows (to push them now). */
export type AcceptResult =
  | { ok: true; touched: string[] }
  | { ok: false; error: RelayRejectCode; message: string };

/** One queue row ready to go out, already in its wire form (the body is spliced in, never re-parsed). */
export interface QueuedFrame { seq: number; frame: string }

/** How long the id and body hash of a fully delivered envelope are kept for idempotent resends. */
export const DELIVERED_MEMORY_MS = 7 * 24 * 60 * 60_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

export class RelayStore {
  constructor(private readonly db: CloudDb, private readonly directory: KeyDirectory, private readonly now: () => number = Date.now) {}

  private iso(): string { return new Date(this.now()).toISOString(); }

  /**
   * Stores `envelope` (already shape-checked; `body` its canonical JSON) from `fromNode` and queues one
   * delivery per recipient node. The id is checked first so a resend is `accepted` even if the directory has
   * changed since the first time.
   */
  accept(fromNode: string, envelope: Envelope, body: string): AcceptResult {
    const conflict = { ok: false, error: 'envelope_id_conflict', message: `envelope ${envelope.id} was already sent with different content.` } as const;
    const stored = this.db.select({ body: relayEnvelopes.body }).from(relayEnvelopes).where(eq(relayEnvelopes.id, envelope.id)).get();
    if (stored) return stored.body === body ? { ok: true, touched: [] } : conflict;
    const done = this.db.select({ hash: relayDelivered.bodySha256 }).from(relayDelivered).where(eq(relayDelivered.id, envelope.id)).get();
    if (done) return done.hash === sha256(body) ? { ok: true, touched: [] } : conflict;

    const nodes = this.directory.nodesOf([envelope.from_device, ...envelope.to]);
    if (nodes.get(envelope.from_device) !== fromNode) {
      return { ok: false, error: 'sender_not_published', message: `from_device ${envelope.from_device} is not one of the devices this node published.` };
    }
    const unknown = envelope.to.filter((d) => !nodes.has(d));
    if (unknown.length > 0) return { ok: false, error: 'unknown_recipient', message: `not in the key directory: ${unknown.join(', ')}.` };

    // One delivery per recipient node, carrying the devices it serves (`to` is sorted, so these are too).
    const byNode = new Map<string, string[]>();
    for (const d of envelope.to) {
      const n = nodes.get(d)!;
      byNode.set(n, [...(byNode.get(n) ?? []), d]);
    }
    const at = this.iso();
    this.db.insert(relayEnvelopes).values({ id: envelope.id, fromNode, body, createdAt: at }).run();
    for (const [toNode, devices] of byNode) {
      this.db.insert(relayQueue).values({ toNode, kind: 'deliver', envelopeId: envelope.id, deviceIds: JSON.stringify(devices), createdAt: at }).run();
    }
    return { ok: true, touched: [...byNode.keys()] };
  }

  /**
   * `node` has stored queue row `seq`: forget it. For a delivery, tell the sending node with a receipt, and drop
   * the envelope once every recipient node has it. An unknown seq, or another node's, changes nothing (acks
   * may repeat after a reconnect). Returns the nodes whose queue got new rows.
   */
  ack(node: string, seq: number): string[] {
    const row = this.db.select().from(relayQueue).where(and(eq(relayQueue.seq, seq), eq(relayQueue.toNode, node))).get();
    if (!row) return [];
    this.db.delete(relayQueue).where(eq(relayQueue.seq, seq)).run();
    if (row.kind !== 'deliver') return [];
    const env = this.db.select({ fromNode: relayEnvelopes.fromNode, body: relayEnvelopes.body }).from(relayEnvelopes).where(eq(relayEnvelopes.id, row.envelopeId)).get();
    if (!env) return [];
    this.queueReceipt(env.fromNode, row.envelopeId, JSON.parse(row.deviceIds) as string[]);
    const left = this.db.select({ n: sql<number>`count(*)` }).from(relayQueue)
      .where(and(eq(relayQueue.kind, 'deliver'), eq(relayQueue.envelopeId, row.envelopeId))).get()!.n;
    if (left === 0) {
      this.db.delete(relayEnvelopes).where(eq(relayEnvelopes.id, row.envelopeId)).run();
      this.db.insert(relayDelivered).values({ id: row.envelopeId, bodySha256: sha256(env.body), deliveredAt: this.iso() }).onConflictDoNothing().run();
    }
    return [env.fromNode];
  }

  /**
   * At most one receipt row per (envelope, sender node): a second recipient node's receipt, while the first
   * is still queued, replaces it with the union of devices at the end of the queue (a new seq). The sender may
   * then see {A} and later {A, B}; receipts only ever add devices, so that is harmless.
   */
  private queueReceipt(toNode: string, envelopeId: string, devices: string[]): void {
    const where = and(eq(relayQueue.kind, 'receipt'), eq(relayQueue.envelopeId, envelopeId), eq(relayQueue.toNode, toNode));
    const prev = this.db.select({ deviceIds: relayQueue.deviceIds }).from(relayQueue).where(where).get();
    const all = prev ? [...new Set([...(JSON.parse(prev.deviceIds) as string[]), ...devices])].sort() : devices;
    if (prev) this.db.delete(relayQueue).where(where).run();
    this.db.insert(relayQueue).values({ toNode, kind: 'receipt', envelopeId, deviceIds: JSON.stringify(all), createdAt: this.iso() }).run();
  }

  /** How many rows wait for `node` (the hello's `pending`). */
  pending(node: string): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(relayQueue).where(eq(relayQueue.toNode, node)).get()!.n;
  }

  /** `node`'s queue after `afterSeq`, oldest first, as wire frames. */
  framesAfter(node: string, afterSeq: number, limit: number): QueuedFrame[] {
    const rows = this.db.select({ seq: relayQueue.seq, kind: relayQueue.kind, envelopeId: relayQueue.envelopeId, deviceIds: relayQueue.deviceIds, body: relayEnvelopes.body })
      .from(relayQueue)
      .leftJoin(relayEnvelopes, and(eq(relayQueue.kind, 'deliver'), eq(relayEnvelopes.id, relayQueue.envelopeId)))
      .where(and(eq(relayQueue.toNode, node), gt(relayQueue.seq, afterSeq)))
      .orderBy(asc(relayQueue.seq)).limit(limit).all();
    return rows.map((r) => ({
      seq: r.seq,
      // accept() writes an envelope before its deliveries and ack() deletes it only after the last one, so a
      // deliver row always has its body; `null` would mean a damaged database, and the node then gets an
      // envelope it cannot parse rather than a stalled queue.
      frame: r.kind === 'deliver'
        ? `{"type":"deliver","seq":${r.seq},"envelope":${r.body ?? 'null'}}`
        : JSON.stringify({ type: 'receipt', seq: r.seq, id: r.envelopeId, device_ids: JSON.parse(r.deviceIds) as string[] }),
    }));
  }

  /** Forgets fully delivered ids older than DELIVERED_MEMORY_MS. */
  pruneDelivered(): number {
    const cutoff = new Date(this.now() - DELIVERED_MEMORY_MS).toISOString();
    return this.db.delete(relayDelivered).where(lt(relayDelivered.deliveredAt, cutoff)).run().changes;
  }
}
