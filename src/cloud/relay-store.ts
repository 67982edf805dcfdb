// The relay's durable state (docs/cloud.md "Relay"): accepted envelopes and one ordered queue per recipient
// node. Every method runs inside the caller's transaction (RelayWriter's group commit), so a frame's whole
// effect commits or none of it does. The tables are the ones of ./db/schema.ts (relayEnvelopes, relayQueue,
// relayDelivered).
//
// Order across instances: every row for a node's queue is written under that node's lock (queueLock), held to
// the commit, so a node's rows commit in the order of their seq and a reader that has seen seq n never later
// finds a smaller one appear.
import { createHash } from 'node:crypto';
import type { Envelope } from '../shared/e2ee/index.js';
import type { RelayRefusalCode, RelayRejectCode } from '../shared/wire/relay.js';
import type { CloudSql, SqlQuery, SqlTx } from './db/sql.js';
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

/** The lock under which rows are added to `node`'s queue. */
export const queueLock = (node: string) => `relay:${node}`;

type FrameRow = { seq: number; kind: QueueKind; envelopeId: string; deviceIds: string; body: string | null };

export class RelayStore {
  /**
   * Rows per node's queue, read once per node and kept up to date by accept()/ack(), so the cap costs no count
   * on the hot path. Only with the embedded SQLite store (this instance is the queue's one writer); with
   * PostgreSQL the count is read under the node's lock each time. The writer calls forgetCounts() on a rollback.
   */
  private readonly counts: Map<string, number> | null;

  constructor(
    private readonly sql: CloudSql,
    private readonly directory: KeyDirectory,
    /** Whether the sending node may reach the recipient node (Accounts.canSee: one household, or contacts). */
    private readonly mayReach: (fromNode: string, toNode: string, q: SqlQuery) => Promise<boolean>,
    private readonly now: () => number = Date.now,
    private readonly queueCap = RELAY_QUEUE_CAP,
  ) {
    this.counts = sql.dialect === 'sqlite' ? new Map() : null;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private async count(q: SqlQuery, node: string): Promise<number> {
    let n = this.counts?.get(node);
    if (n === undefined) {
      n = await this.pending(node, q);
      this.counts?.set(node, n);
    }
    return n;
  }

  private bump(node: string, by: number): void {
    const n = this.counts?.get(node);
    if (n !== undefined) this.counts!.set(node, n + by);
  }

  /** A transaction rolled back: the kept counts may be ahead of the disk; read them again when needed. */
  forgetCounts(): void {
    this.counts?.clear();
  }

  /**
   * Stores `envelope` (already shape-checked; `body` its canonical JSON) from `fromNode` and queues one
   * delivery per recipient node. The id is checked first so a resend is `accepted` even if the directory has
   * changed since the first time.
   */
  async accept(tx: SqlTx, fromNode: string, envelope: Envelope, body: string): Promise<AcceptResult> {
    const conflict = (): AcceptResult => ({
      ok: false,
      error: 'envelope_id_conflict',
      message: `envelope ${envelope.id} was already sent with different content.`,
    });
    const stored = await tx.get<{ body: string }>('SELECT body FROM relay_envelopes WHERE id = ?', [envelope.id]);
    if (stored !== undefined) return stored.body === body ? { ok: true, touched: [] } : conflict();
    const done = await tx.get<{ h: string }>('SELECT body_sha256 AS h FROM relay_delivered WHERE id = ?', [envelope.id]);
    if (done !== undefined) return done.h === sha256(body) ? { ok: true, touched: [] } : conflict();

    const nodes = await this.directory.nodesOf([envelope.from_device, ...envelope.to], tx);
    if (nodes.get(envelope.from_device) !== fromNode) {
      return {
        ok: false,
        error: 'sender_not_published',
        message: `from_device ${envelope.from_device} is not one of the devices this node published.`,
      };
    }
    const unknown = envelope.to.filter((d) => !nodes.has(d));
    if (unknown.length > 0) return { ok: false, error: 'unknown_recipient', message: `not in the key directory: ${unknown.join(', ')}.` };
    // One delivery per recipient node, carrying the devices it serves (`to` is sorted, so these are too).
    const byNode = new Map<string, string[]>();
    for (const d of envelope.to) {
      const n = nodes.get(d)!;
      const list = byNode.get(n);
      if (list) list.push(d);
      else byNode.set(n, [d]);
    }
    // Asked once per recipient node, not per device: an envelope to a household's 10 devices is one question.
    const outside: string[] = [];
    for (const [n, devices] of byNode) if (!(await this.mayReach(fromNode, n, tx))) outside.push(...devices);
    if (outside.length > 0)
      return {
        ok: false,
        error: 'not_a_contact',
        message: `outside your household and contacts: ${outside.sort().join(', ')}.`,
      };

    if ((await this.count(tx, fromNode)) >= this.queueCap) {
      return {
        ok: false,
        error: 'sender_backlog_full',
        message: `this node has ${this.queueCap} deliveries and receipts waiting for its ack; ack them before sending.`,
      };
    }
    // Locked in one order (sorted), so two instances' transactions cannot each wait for the other's node.
    const recipients = [...byNode.keys()].sort();
    for (const n of recipients) await tx.lock(queueLock(n));
    // Refused before anything is stored: nothing accepted is ever dropped for a full queue.
    for (const n of recipients) {
      if ((await this.count(tx, n)) >= this.queueCap) {
        return {
          ok: false,
          error: 'recipient_backlog_full',
          message: `the node serving ${byNode.get(n)!.join(', ')} has ${this.queueCap} messages waiting; it must collect them first.`,
        };
      }
    }
    const at = this.iso();
    await tx.run('INSERT INTO relay_envelopes (id, from_node, body, created_at) VALUES (?, ?, ?, ?)', [envelope.id, fromNode, body, at]);
    for (const [toNode, devices] of byNode) {
      await this.insertQueue(tx, toNode, 'deliver', envelope.id, JSON.stringify(devices), at);
      this.bump(toNode, 1);
    }
    return { ok: true, touched: recipients };
  }

  private insertQueue(tx: SqlTx, toNode: string, kind: QueueKind, envelopeId: string, deviceIds: string, at: string) {
    return tx.run('INSERT INTO relay_queue (to_node, kind, envelope_id, device_ids, created_at) VALUES (?, ?, ?, ?, ?)', [
      toNode,
      kind,
      envelopeId,
      deviceIds,
      at,
    ]);
  }

  /**
   * `node` has stored queue row `seq`: forget it. For a delivery, tell the sending node with a receipt, and drop
   * the envelope once every recipient node has it. An unknown seq, or another node's, changes nothing (acks
   * may repeat after a reconnect). With `refused`, the node did not store it for those devices (of the row's):
   * the sender gets a refusal receipt for them, a receipt for the rest. Returns the nodes whose queue got new rows.
   */
  async ack(tx: SqlTx, node: string, seq: number, refused?: { device_ids: string[]; error: RelayRefusalCode }): Promise<string[]> {
    const row = await tx.get<{ kind: QueueKind; envelopeId: string; deviceIds: string }>(
      'SELECT kind, envelope_id AS "envelopeId", device_ids AS "deviceIds" FROM relay_queue WHERE seq = ? AND to_node = ?',
      [seq, node],
    );
    if (!row) return [];
    // The delete decides who acked: a second ack of the same row (a resend on another instance) deletes nothing.
    if ((await tx.run('DELETE FROM relay_queue WHERE seq = ?', [seq])).changes === 0) return [];
    this.bump(node, -1);
    if (row.kind !== 'deliver') return [];
    const env = await tx.get<{ fromNode: string; body: string }>('SELECT from_node AS "fromNode", body FROM relay_envelopes WHERE id = ?', [
      row.envelopeId,
    ]);
    if (!env) return [];
    const devices = JSON.parse(row.deviceIds) as string[];
    const no = new Set(refused?.device_ids.filter((d) => devices.includes(d)) ?? []);
    const stored = devices.filter((d) => !no.has(d));
    await tx.lock(queueLock(env.fromNode));
    if (stored.length > 0)
      await this.queueReceipt(tx, env.fromNode, 'receipt', row.envelopeId, no.size > 0 ? JSON.stringify(stored) : row.deviceIds);
    if (no.size > 0) await this.queueReceipt(tx, env.fromNode, 'refusal', row.envelopeId, JSON.stringify([...no]));
    // Served by the unique index (kind, envelope_id, to_node).
    const left = (await tx.get<{ n: number }>("SELECT count(*) AS n FROM relay_queue WHERE kind = 'deliver' AND envelope_id = ?", [
      row.envelopeId,
    ]))!.n;
    if (left === 0) {
      await tx.run('DELETE FROM relay_envelopes WHERE id = ?', [row.envelopeId]);
      await tx.run('INSERT INTO relay_delivered (id, body_sha256, delivered_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [
        row.envelopeId,
        sha256(env.body),
        this.iso(),
      ]);
    }
    return [env.fromNode];
  }

  /**
   * At most one receipt row per (envelope, sender node): a second recipient node's receipt, while the first
   * is still queued, replaces it with the union of devices at the end of the queue (a new seq). The sender may
   * then see {A} and later {A, B}; receipts only ever add devices, so that is harmless. `devices` is the JSON
   * array of the acked delivery row (written by accept()). The caller holds the sender's queue lock.
   */
  private async queueReceipt(tx: SqlTx, toNode: string, kind: 'receipt' | 'refusal', envelopeId: string, devices: string): Promise<void> {
    const prev = await tx.get<{ d: string }>('SELECT device_ids AS d FROM relay_queue WHERE kind = ? AND envelope_id = ? AND to_node = ?', [
      kind,
      envelopeId,
      toNode,
    ]);
    let all = devices;
    if (prev !== undefined) {
      all = JSON.stringify([...new Set([...(JSON.parse(prev.d) as string[]), ...(JSON.parse(devices) as string[])])].sort());
      await tx.run('DELETE FROM relay_queue WHERE kind = ? AND envelope_id = ? AND to_node = ?', [kind, envelopeId, toNode]);
      this.bump(toNode, -1);
    }
    // Receipts are not held to the cap (refusing one would lose an outcome the sender waits for); they are
    // bounded anyway: a node at its cap may not send, so it cannot earn new ones.
    await this.insertQueue(tx, toNode, kind, envelopeId, all, this.iso());
    this.bump(toNode, 1);
  }

  /** How many rows wait for `node` (the hello's `pending`). */
  async pending(node: string, q: SqlQuery = this.sql): Promise<number> {
    return (await q.get<{ n: number }>('SELECT count(*) AS n FROM relay_queue WHERE to_node = ?', [node]))!.n;
  }

  /** `node`'s queue after `afterSeq`, oldest first, as wire frames. */
  async framesAfter(node: string, afterSeq: number, limit: number): Promise<QueuedFrame[]> {
    // Served by the index (to_node, seq).
    const rows = await this.sql.all<FrameRow>(
      'SELECT q.seq AS seq, q.kind AS kind, q.envelope_id AS "envelopeId", q.device_ids AS "deviceIds", e.body AS body FROM relay_queue q ' +
        "LEFT JOIN relay_envelopes e ON q.kind = 'deliver' AND e.id = q.envelope_id " +
        'WHERE q.to_node = ? AND q.seq > ? ORDER BY q.seq ASC LIMIT ?',
      [node, afterSeq, limit],
    );
    return rows.map((r) => ({
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
  async pruneDelivered(): Promise<number> {
    return (
      await this.sql.run('DELETE FROM relay_delivered WHERE delivered_at < ?', [new Date(this.now() - DELIVERED_MEMORY_MS).toISOString()])
    ).changes;
  }
}
