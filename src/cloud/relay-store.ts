// The relay's durable state (docs/cloud.md "Relay"): accepted envelopes and one ordered queue per recipient
// node. Every method is synchronous and expects to run inside the caller's transaction (RelayWriter's group
// commit), so a frame's whole effect commits or none of it does.
//
// The statements are plain better-sqlite3 ones, prepared once: this is the relay's per-message path, and
// building each query through drizzle on every call was a fifth of the cloud's CPU (bench/relay.ts --prof).
// The tables are the ones of ./db/schema.ts (relayEnvelopes, relayQueue, relayDelivered).
import { createHash } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Envelope } from '../shared/e2ee/index.js';
import type { RelayRefusalCode, RelayRejectCode } from '../shared/wire/relay.js';
import { type CloudDb, sqliteOf } from './db/open.js';
import type { KeyDirectory } from './key-directory.js';

/** What a `send` came to. `touched`: nodes whose queue got new rows (to push them now). */
export type AcceptResult = { ok: true; touched: string[] } | { ok: false; error: RelayRejectCode; message: string };

/** One queue row ready to go out, already in its wire form (the body is spliced in, never re-parsed). */
export interface QueuedFrame {
  seq: number;
  frame: string;
}

/**
 * Most rows (deliveries and receipts) one node's queue may hold. A send that would queue a delivery for a node
 * at its cap is `rejected` with recipient_backlog_full, and a node whose own queue is at its cap may not send
 * (sender_backlog_full: its receipts would pile up unbounded). Why 10,000: a home that is offline for a week of
 * busy chat stays under it, and it bounds one node's share of the cloud's disk to about 10,000 envelopes.
 */
export const RELAY_QUEUE_CAP = 10_000;

/** Queue row kinds: a delivery, a receipt ("delivered"), a refusal receipt ("failed": the node refused to store). */
type QueueKind = 'deliver' | 'receipt' | 'refusal';

/** How long the id and body hash of a fully delivered envelope are kept for idempotent resends. */
export const DELIVERED_MEMORY_MS = 7 * 24 * 60 * 60_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

export class RelayStore {
  private readonly q: {
    envelopeBody: Statement<[string], string>;
    deliveredHash: Statement<[string], string>;
    insertEnvelope: Statement<[string, string, string, string]>;
    insertQueue: Statement<[string, QueueKind, string, string, string]>;
    queueRow: Statement<[number, string], { kind: QueueKind; envelopeId: string; deviceIds: string }>;
    deleteQueueRow: Statement<[number]>;
    envelopeFromAndBody: Statement<[string], { fromNode: string; body: string }>;
    deliveriesLeft: Statement<[string], number>;
    deleteEnvelope: Statement<[string]>;
    insertDelivered: Statement<[string, string, string]>;
    receiptDevices: Statement<[string, string, string], string>;
    deleteReceipt: Statement<[string, string, string]>;
    pending: Statement<[string], number>;
    framesAfter: Statement<
      [string, number, number],
      { seq: number; kind: QueueKind; envelopeId: string; deviceIds: string; body: string | null }
    >;
    pruneDelivered: Statement<[string]>;
  };

  /**
   * Rows per node's queue, read once per node and kept up to date by accept()/ack(), so the cap costs no count
   * on the hot path. Only the writer's transaction changes the queue; it calls forgetCounts() when one rolls back.
   */
  private readonly counts = new Map<string, number>();

  constructor(
    db: CloudDb,
    private readonly directory: KeyDirectory,
    /** Whether the sending node may reach the recipient node (Accounts.canSee: one household, or contacts). */
    private readonly mayReach: (fromNode: string, toNode: string) => boolean,
    private readonly now: () => number = Date.now,
    private readonly queueCap = RELAY_QUEUE_CAP,
  ) {
    const s = sqliteOf(db);
    this.q = {
      envelopeBody: s.prepare<[string], string>('SELECT body FROM relay_envelopes WHERE id = ?').pluck(),
      deliveredHash: s.prepare<[string], string>('SELECT body_sha256 FROM relay_delivered WHERE id = ?').pluck(),
      insertEnvelope: s.prepare('INSERT INTO relay_envelopes (id, from_node, body, created_at) VALUES (?, ?, ?, ?)'),
      insertQueue: s.prepare('INSERT INTO relay_queue (to_node, kind, envelope_id, device_ids, created_at) VALUES (?, ?, ?, ?, ?)'),
      queueRow: s.prepare('SELECT kind, envelope_id AS envelopeId, device_ids AS deviceIds FROM relay_queue WHERE seq = ? AND to_node = ?'),
      deleteQueueRow: s.prepare('DELETE FROM relay_queue WHERE seq = ?'),
      envelopeFromAndBody: s.prepare('SELECT from_node AS fromNode, body FROM relay_envelopes WHERE id = ?'),
      // Served by the unique index (kind, envelope_id, to_node).
      deliveriesLeft: s.prepare<[string], number>("SELECT count(*) FROM relay_queue WHERE kind = 'deliver' AND envelope_id = ?").pluck(),
      deleteEnvelope: s.prepare('DELETE FROM relay_envelopes WHERE id = ?'),
      insertDelivered: s.prepare('INSERT INTO relay_delivered (id, body_sha256, delivered_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      receiptDevices: s
        .prepare<[string, string, string], string>('SELECT device_ids FROM relay_queue WHERE kind = ? AND envelope_id = ? AND to_node = ?')
        .pluck(),
      deleteReceipt: s.prepare('DELETE FROM relay_queue WHERE kind = ? AND envelope_id = ? AND to_node = ?'),
      pending: s.prepare<[string], number>('SELECT count(*) FROM relay_queue WHERE to_node = ?').pluck(),
      // Served by the index (to_node, seq).
      framesAfter: s.prepare(
        'SELECT q.seq AS seq, q.kind AS kind, q.envelope_id AS envelopeId, q.device_ids AS deviceIds, e.body AS body FROM relay_queue q ' +
          "LEFT JOIN relay_envelopes e ON q.kind = 'deliver' AND e.id = q.envelope_id " +
          'WHERE q.to_node = ? AND q.seq > ? ORDER BY q.seq ASC LIMIT ?',
      ),
      pruneDelivered: s.prepare('DELETE FROM relay_delivered WHERE delivered_at < ?'),
    };
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private count(node: string): number {
    let n = this.counts.get(node);
    if (n === undefined) {
      n = this.q.pending.get(node)!;
      this.counts.set(node, n);
    }
    return n;
  }

  private bump(node: string, by: number): void {
    this.counts.set(node, this.count(node) + by);
  }

  /** A transaction rolled back: the kept counts may be ahead of the disk; read them again when needed. */
  forgetCounts(): void {
    this.counts.clear();
  }

  /**
   * Stores `envelope` (already shape-checked; `body` its canonical JSON) from `fromNode` and queues one
   * delivery per recipient node. The id is checked first so a resend is `accepted` even if the directory has
   * changed since the first time.
   */
  accept(fromNode: string, envelope: Envelope, body: string): AcceptResult {
    const conflict = (): AcceptResult => ({
      ok: false,
      error: 'envelope_id_conflict',
      message: `envelope ${envelope.id} was already sent with different content.`,
    });
    const stored = this.q.envelopeBody.get(envelope.id);
    if (stored !== undefined) return stored === body ? { ok: true, touched: [] } : conflict();
    const done = this.q.deliveredHash.get(envelope.id);
    if (done !== undefined) return done === sha256(body) ? { ok: true, touched: [] } : conflict();

    const nodes = this.directory.nodesOf([envelope.from_device, ...envelope.to]);
    if (nodes.get(envelope.from_device) !== fromNode) {
      return {
        ok: false,
        error: 'sender_not_published',
        message: `from_device ${envelope.from_device} is not one of the devices this node published.`,
      };
    }
    const unknown = envelope.to.filter((d) => !nodes.has(d));
    if (unknown.length > 0) return { ok: false, error: 'unknown_recipient', message: `not in the key directory: ${unknown.join(', ')}.` };
    // Asked once per recipient node, not per device: an envelope to a household's 10 devices is one question.
    const reach = new Map<string, boolean>();
    const reachable = (node: string) => {
      let ok = reach.get(node);
      if (ok === undefined) {
        ok = this.mayReach(fromNode, node);
        reach.set(node, ok);
      }
      return ok;
    };
    const outside = envelope.to.filter((d) => !reachable(nodes.get(d)!));
    if (outside.length > 0)
      return {
        ok: false,
        error: 'not_a_contact',
        message: `outside your household and contacts: ${outside.join(', ')}.`,
      };

    if (this.count(fromNode) >= this.queueCap) {
      return {
        ok: false,
        error: 'sender_backlog_full',
        message: `this node has ${this.queueCap} deliveries and receipts waiting for its ack; ack them before sending.`,
      };
    }
    // One delivery per recipient node, carrying the devices it serves (`to` is sorted, so these are too).
    const byNode = new Map<string, string[]>();
    for (const d of envelope.to) {
      const n = nodes.get(d)!;
      const list = byNode.get(n);
      if (list) list.push(d);
      else byNode.set(n, [d]);
    }
    // Refused before anything is stored: nothing accepted is ever dropped for a full queue.
    for (const n of byNode.keys()) {
      if (this.count(n) >= this.queueCap) {
        return {
          ok: false,
          error: 'recipient_backlog_full',
          message: `the node serving ${byNode.get(n)!.join(', ')} has ${this.queueCap} messages waiting; it must collect them first.`,
        };
      }
    }
    const at = this.iso();
    this.q.insertEnvelope.run(envelope.id, fromNode, body, at);
    for (const [toNode, devices] of byNode) {
      this.q.insertQueue.run(toNode, 'deliver', envelope.id, JSON.stringify(devices), at);
      this.bump(toNode, 1);
    }
    return { ok: true, touched: [...byNode.keys()] };
  }

  /**
   * `node` has stored queue row `seq`: forget it. For a delivery, tell the sending node with a receipt, and drop
   * the envelope once every recipient node has it. An unknown seq, or another node's, changes nothing (acks
   * may repeat after a reconnect). With `refused`, the node did not store it for those devices (of the row's):
   * the sender gets a refusal receipt for them, a receipt for the rest. Returns the nodes whose queue got new rows.
   */
  ack(node: string, seq: number, refused?: { device_ids: string[]; error: RelayRefusalCode }): string[] {
    const row = this.q.queueRow.get(seq, node);
    if (!row) return [];
    this.q.deleteQueueRow.run(seq);
    this.bump(node, -1);
    if (row.kind !== 'deliver') return [];
    const env = this.q.envelopeFromAndBody.get(row.envelopeId);
    if (!env) return [];
    const devices = JSON.parse(row.deviceIds) as string[];
    const no = new Set(refused?.device_ids.filter((d) => devices.includes(d)) ?? []);
    const stored = devices.filter((d) => !no.has(d));
    if (stored.length > 0) this.queueReceipt(env.fromNode, 'receipt', row.envelopeId, no.size > 0 ? JSON.stringify(stored) : row.deviceIds);
    if (no.size > 0) this.queueReceipt(env.fromNode, 'refusal', row.envelopeId, JSON.stringify([...no]));
    if (this.q.deliveriesLeft.get(row.envelopeId) === 0) {
      this.q.deleteEnvelope.run(row.envelopeId);
      this.q.insertDelivered.run(row.envelopeId, sha256(env.body), this.iso());
    }
    return [env.fromNode];
  }

  /**
   * At most one receipt row per (envelope, sender node): a second recipient node's receipt, while the first
   * is still queued, replaces it with the union of devices at the end of the queue (a new seq). The sender may
   * then see {A} and later {A, B}; receipts only ever add devices, so that is harmless. `devices` is the JSON
   * array of the acked delivery row (written by accept()).
   */
  private queueReceipt(toNode: string, kind: 'receipt' | 'refusal', envelopeId: string, devices: string): void {
    const prev = this.q.receiptDevices.get(kind, envelopeId, toNode);
    let all = devices;
    if (prev !== undefined) {
      all = JSON.stringify([...new Set([...(JSON.parse(prev) as string[]), ...(JSON.parse(devices) as string[])])].sort());
      this.q.deleteReceipt.run(kind, envelopeId, toNode);
      this.bump(toNode, -1);
    }
    // Receipts are not held to the cap (refusing one would lose an outcome the sender waits for); they are
    // bounded anyway: a node at its cap may not send, so it cannot earn new ones.
    this.q.insertQueue.run(toNode, kind, envelopeId, all, this.iso());
    this.bump(toNode, 1);
  }

  /** How many rows wait for `node` (the hello's `pending`). */
  pending(node: string): number {
    return this.q.pending.get(node)!;
  }

  /** `node`'s queue after `afterSeq`, oldest first, as wire frames. */
  framesAfter(node: string, afterSeq: number, limit: number): QueuedFrame[] {
    return this.q.framesAfter.all(node, afterSeq, limit).map((r) => ({
      seq: r.seq,
      // accept() writes an envelope before its deliveries and ack() deletes it only after the last one, so a
      // deliver row always has its body; `null` would mean a damaged database, and the node then gets an
      // envelope it cannot parse rather than a stalled queue. Both the body and device_ids are JSON this
      // store wrote (the validated envelope, a JSON array of device ids), so they are spliced in as they are.
      frame:
        r.kind === 'deliver'
          ? `{"type":"deliver","seq":${r.seq},"envelope":${r.body ?? 'null'}}`
          : `{"type":"receipt","seq":${r.seq},"id":${JSON.stringify(r.envelopeId)},"device_ids":${r.deviceIds}${r.kind === 'refusal' ? ',"error":"recipient_backlog_full"' : ''}}`,
    }));
  }

  /** Forgets fully delivered ids older than DELIVERED_MEMORY_MS. */
  pruneDelivered(): number {
    return this.q.pruneDelivered.run(new Date(this.now() - DELIVERED_MEMORY_MS).toISOString()).changes;
  }
}
