// The node's durable message store: the outbox of what this node still has to hand to another node (per
// destination: the cloud or a paired desktop; envelopes and 'seen' receipts), the status of what each local
// device sent (per recipient, with the route it took), the inbox of envelopes for local devices (until they
// ack), and the desktop UI's messaging key. It implements MessageStorePort for the cloud link (restricted to the
// outbox rows for the cloud) and the writes the router asks for; the router (routing/router.ts) decides where
// each envelope goes. Envelopes are opaque here: the node never sees plaintext.
//
// Durability: enqueue(), storeInbound() and delivered() resolve only after their rows are committed (group
// commit: every call of one event-loop turn shares one transaction, with the nonce claims of that turn too, see
// GroupCommit.shared), so a 202 to a device or an ack to the cloud or a peer is never ahead of the disk. A send
// to a device of this node writes that device's inbox row in the send's own unit: it is stored before the 202.
// accepted() and rejected() go into the same group commit (nobody waits for them: until they commit, the row is
// still in the outbox and a reconnect sends it again, which the cloud absorbs by id). Inbox acks are single
// synchronous transactions. Pushes to WebSockets happen after the commit. Every write goes through the one
// queue, so writes commit in the order they were asked for.

import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Envelope } from '../../../shared/e2ee/schema.js';
import {
  type DirectoryDevice,
  type InboxItem,
  type InboxPage,
  type InboxPush,
  type MessageStatus,
  type MessageStatusPush,
  type MessageStatusView,
  type Route,
  type SendAccepted,
  uiDeviceId,
} from '../../../shared/wire/relay.js';
import { DomainError } from '../errors/domain-error.js';
import { CLOUD, LOCAL, type PeerOutboundItem, type PeerRefusal } from '../routing/ports.js';
import { GroupCommit } from './group-commit.js';
import { aggregateStatus, isForward, type RecipientState } from './recipient-status.js';
import type { MessageStorePort, OutboundEnvelope, RemoteEntry } from './relay-port.js';

/** Sent-message statuses that are final (not 'queued') are forgotten after this long. */
export const SENT_STATUS_KEEP_MS = 30 * 24 * 60 * 60 * 1000;
/** How long an acked inbox row is kept as a tombstone against a redelivery (from the cloud after a crash
 * between storing and acking, or the same envelope by the LAN and the cloud after a fallback). */
export const INBOX_TOMBSTONE_KEEP_MS = 7 * 24 * 60 * 60 * 1000;
/** Most status rows GET /outbox returns (the newest). */
export const OUTBOX_VIEW_LIMIT = 500;
export const INBOX_PAGE_MAX = 500;
export const INBOX_PAGE_DEFAULT = 100;

/**
 * Bounds of the store (MessageStoreDeps.caps; tests shrink them).
 * inboxPerDevice: unacked envelopes one device's inbox may hold. Past it the node refuses to store more for that
 *   device (the sender is told: failed, recipient_backlog_full) instead of filling the disk for a phone that
 *   never collects. 5,000 is weeks of busy chat for a phone that is merely away, and at most ~350 MB (at
 *   MAX_ENVELOPE_JSON_BYTES each, typically a few MB) per device.
 * outboxPerDevice: outbox envelope rows one device may have waiting (for the cloud or a paired desktop, counted
 *   over every destination). Past it POST /api/messages answers 429 outbox_full and queues nothing. 1,000
 *   covers a day of sending offline.
 */
export interface MessageStoreCaps {
  inboxPerDevice: number;
  outboxPerDevice: number;
}
export const DEFAULT_MESSAGE_STORE_CAPS: MessageStoreCaps = { inboxPerDevice: 5_000, outboxPerDevice: 1_000 };

export type DevicePush = InboxPush | MessageStatusPush;

/** Where the router sends one recipient: LOCAL, CLOUD or a paired desktop's node id. */
export interface RecipientPlan {
  device: string;
  destination: string;
}

/** What enqueue() committed: the outbox destinations that got a row (to wake), and the answer. */
export interface EnqueueResult {
  accepted: SendAccepted;
  queuedFor: string[];
}

/** An outbox row for the link: the JSON text as stored, the parsed envelope only if someone asks for it. */
function outbound(seq: number, id: string, json: string): OutboundEnvelope {
  let parsed: Envelope | undefined;
  return {
    seq,
    id,
    json,
    get envelope(): Envelope {
      parsed ??= JSON.parse(json) as Envelope;
      return parsed;
    },
  };
}

export interface MessageStoreDeps {
  /** The raw SQLite handle of the node's database (migrated: outbox, sent_messages, sent_recipients, inbox, ui_device). */
  sqlite: Database.Database;
  /** This node's id and current name (the UI device is `<node_id>.ui`, named like the node). */
  nodeId(): string;
  nodeName(): string;
  /** Sends a frame to every open WebSocket of a paired device (DeviceSockets.sendToDevice). */
  sendToDevice(deviceId: string, frame: DevicePush): void;
  /** Sends a frame to the desktop UI (the admin event WebSocket), for the UI device. */
  sendToUi(frame: DevicePush): void;
  /** "Something changed" (the ChangeFeed): pairing, unpair, rename. Used to notice local device changes. */
  subscribeChanges(fn: () => void): () => void;
  log: Logger;
  now?: () => number;
  caps?: Partial<MessageStoreCaps>;
  /** The desktop UI registered another key than before (its storage was cleared): its old prekeys are void. */
  uiKeyReplaced?(deviceId: string): void;
}

interface InboundResult {
  stored: { device: string; seq: number }[];
  full: string[];
  receivedAt: string;
}
interface RecipientRow extends RecipientState {
  device_id: string;
  destination: string;
}
/** A status change to push to the sender after the commit. */
interface StatusChange {
  sender: string;
  push: MessageStatusPush;
}
/** Which recipients of one envelope a transition applies to, and how. */
interface Transition {
  pick(r: RecipientRow): boolean;
  to: MessageStatus;
  /** The route to record; null: keep the recipient's. */
  route: Route | null;
  error: string | null;
  /** Also from this status (a refusal after 'delivered' for the same device is still news: it did not get it). */
  alsoFrom?: MessageStatus;
}

const outboxKey = (destination: string, id: string) => `${destination}\n${id}`;

export class MessageStore implements MessageStorePort {
  private readonly commit: GroupCommit;
  private readonly st;
  private readonly queuedListeners = new Set<() => void>();
  private readonly deviceListeners = new Set<() => void>();
  private remote: RemoteEntry[] = [];
  /** device id -> the node serving it (its cloud device id), from the cloud's directory. */
  private remoteNodes = new Map<string, string>();
  private readonly remoteListeners = new Set<() => void>();
  private lastDevicesKey: string | undefined;
  private lastPrune = 0;
  private readonly now: () => number;
  private readonly unsubscribeChanges: () => void;
  /** localIds(), until something changes (pairing, unpair, the UI key): it is read on every delivery. */
  private localIdCache: Set<string> | undefined;
  /**
   * The envelope rows in the outbox ((destination, id) -> sending device), as the transports' answers have it: a
   * cloud row leaves when its outcome (accepted/rejected/delivered) arrives, before that outcome is committed (it
   * comes back if the commit fails). outboxSize() is read on every change of the cloud link's view and the cap on
   * every send, so neither may cost a query.
   */
  private readonly outboxRows = new Map<string, string>();
  /** Envelope rows per destination (the cloud's outbox size; which peers have envelopes waiting). */
  private readonly outboxPerDestination = new Map<string, number>();
  /** Envelope rows per sending device, over every destination (the outbox cap). */
  private readonly outboxPerDevice = new Map<string, number>();
  /**
   * Unacked inbox rows per device (the inbox cap), read once per device and kept up to date by the inbox writes
   * and ack(); cleared when a commit fails (the counts may then be ahead of the disk) and read again.
   */
  private readonly inboxUnacked = new Map<string, number>();
  private readonly caps: MessageStoreCaps;
  /**
   * Per device, a seq at or below which every inbox row of the device is acked, now and later: an ack up to N
   * acks every row <= N, and rows stored afterwards get a seq above every seq in the table at that time.
   */
  private readonly ackFloor = new Map<string, number>();
  /** The link may call storeInbound()/delivered() again before the last call settled: they apply in call order. */
  readonly inboundInCallOrder = true;

  constructor(private readonly deps: MessageStoreDeps) {
    const db = deps.sqlite;
    this.now = deps.now ?? Date.now;
    this.caps = { ...DEFAULT_MESSAGE_STORE_CAPS, ...deps.caps };
    this.commit = GroupCommit.shared(db, (err) => deps.log.warn({ err: (err as Error).message }, 'message push after commit failed'));
    this.st = {
      sentGet: db.prepare<
        [string],
        { from_device: string; body_hash: string; status: MessageStatus; route: Route | null; error: string | null }
      >('SELECT from_device, body_hash, status, route, error FROM sent_messages WHERE envelope_id = ?'),
      sentInsert: db.prepare<[string, string, string, string, MessageStatus, string | null, Route | null, string, string]>(
        'INSERT INTO sent_messages (envelope_id, from_device, "to", body_hash, status, error, route, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      sentSet: db.prepare<[MessageStatus, string | null, Route | null, string, string]>(
        'UPDATE sent_messages SET status = ?, error = ?, route = ?, updated_at = ? WHERE envelope_id = ?',
      ),
      sentView: db.prepare<
        [string, number],
        { envelope_id: string; to: string; status: MessageStatus; route: Route | null; error: string | null; created_at: string }
      >(
        'SELECT envelope_id, "to", status, route, error, created_at FROM (SELECT rowid AS r, * FROM sent_messages WHERE from_device = ? ORDER BY created_at DESC, rowid DESC LIMIT ?) ORDER BY created_at, r',
      ),
      recipientsPrune: db.prepare<[string]>(
        "DELETE FROM sent_recipients WHERE envelope_id IN (SELECT envelope_id FROM sent_messages WHERE status <> 'queued' AND updated_at < ?)",
      ),
      sentPrune: db.prepare<[string]>("DELETE FROM sent_messages WHERE status <> 'queued' AND updated_at < ?"),
      recipientInsert: db.prepare<[string, string, string, MessageStatus, Route | null, string | null, string]>(
        'INSERT OR IGNORE INTO sent_recipients (envelope_id, device_id, destination, status, route, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      recipientsOf: db.prepare<[string], RecipientRow>(
        'SELECT device_id, destination, status, route, error FROM sent_recipients WHERE envelope_id = ?',
      ),
      recipientSet: db.prepare<[MessageStatus, Route | null, string | null, string, string, string]>(
        'UPDATE sent_recipients SET status = ?, route = ?, error = ?, updated_at = ? WHERE envelope_id = ? AND device_id = ?',
      ),
      recipientsMove: db.prepare<[string, string, string, string]>(
        'UPDATE sent_recipients SET destination = ?, updated_at = ? WHERE envelope_id = ? AND destination = ?',
      ),
      outboxInsert: db.prepare<[string, string, 'envelope' | 'seen', string, string, string]>(
        'INSERT OR IGNORE INTO outbox (envelope_id, destination, kind, from_device, body, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      outboxDelete: db.prepare<[string, string, 'envelope' | 'seen']>(
        'DELETE FROM outbox WHERE envelope_id = ? AND destination = ? AND kind = ?',
      ),
      outboxGet: db.prepare<[string, string, 'envelope' | 'seen'], { seq: number; body: string; from_device: string }>(
        'SELECT seq, body, from_device FROM outbox WHERE envelope_id = ? AND destination = ? AND kind = ?',
      ),
      outboxAfter: db.prepare<[string, number, number], { seq: number; envelope_id: string; kind: 'envelope' | 'seen'; body: string }>(
        'SELECT seq, envelope_id, kind, body FROM outbox WHERE destination = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      outboxCloudAfter: db.prepare<[number, number], { seq: number; envelope_id: string; body: string }>(
        "SELECT seq, envelope_id, body FROM outbox WHERE destination = 'cloud' AND kind = 'envelope' AND seq > ? ORDER BY seq LIMIT ?",
      ),
      outboxEnvelopesFor: db.prepare<[string], { seq: number; envelope_id: string; from_device: string; body: string }>(
        "SELECT seq, envelope_id, from_device, body FROM outbox WHERE destination = ? AND kind = 'envelope' ORDER BY seq",
      ),
      outboxEnvelopes: db.prepare<[], { envelope_id: string; destination: string; from_device: string }>(
        "SELECT envelope_id, destination, from_device FROM outbox WHERE kind = 'envelope'",
      ),
      inboxHas: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM inbox WHERE envelope_id = ? AND to_device = ?'),
      inboxInsert: db.prepare<[string, string, string, string, string, string]>(
        'INSERT OR IGNORE INTO inbox (envelope_id, to_device, body, received_at, from_device, origin) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      inboxPage: db.prepare<[string, number, number], { seq: number; body: string; received_at: string }>(
        'SELECT seq, body, received_at FROM inbox WHERE to_device = ? AND seq > ? AND acked_at IS NULL ORDER BY seq LIMIT ?',
      ),
      // Acked rows become tombstones (see the inbox table): the id stays, the envelope goes.
      // `seq > ?`: the device's floor (see ackFloor), so an ack does not walk the device's tombstones again.
      // RETURNING: where each came from, so the ack can tell its sender 'seen' (one statement either way).
      inboxAck: db.prepare<[string, string, number, number], { envelope_id: string; origin: string | null; from_device: string | null }>(
        "UPDATE inbox SET acked_at = ?, body = '' WHERE to_device = ? AND seq > ? AND seq <= ? AND acked_at IS NULL RETURNING envelope_id, origin, from_device",
      ),
      inboxMaxSeq: db.prepare<[], { m: number | null }>('SELECT max(seq) AS m FROM inbox'),
      inboxCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM inbox WHERE to_device = ? AND acked_at IS NULL'),
      inboxPrune: db.prepare<[string]>('DELETE FROM inbox WHERE acked_at IS NOT NULL AND acked_at < ?'),
      phones: db.prepare<[], { id: string; name: string; public_key: string }>(
        "SELECT id, name, public_key FROM mesh_nodes WHERE is_current = 0 AND kind = 'phone' AND public_key IS NOT NULL ORDER BY name, id",
      ),
      uiGet: db.prepare<[], { device_id: string; public_key: string }>('SELECT device_id, public_key FROM ui_device LIMIT 1'),
      uiDeleteAll: db.prepare('DELETE FROM ui_device'),
      uiInsert: db.prepare('INSERT INTO ui_device (device_id, public_key, updated_at) VALUES (?, ?, ?)'),
    };
    for (const r of this.st.outboxEnvelopes.all()) this.outboxAdd(r.destination, r.envelope_id, r.from_device);
    this.unsubscribeChanges = deps.subscribeChanges(() => {
      this.localIdCache = undefined;
      this.checkLocalDevices();
    });
    this.prune();
  }

  /** Stops listening for changes (the node is stopping). */
  close(): void {
    this.unsubscribeChanges();
  }

  private outboxAdd(destination: string, id: string, device: string): void {
    const key = outboxKey(destination, id);
    if (this.outboxRows.has(key)) return;
    this.outboxRows.set(key, device);
    this.outboxPerDevice.set(device, (this.outboxPerDevice.get(device) ?? 0) + 1);
    this.outboxPerDestination.set(destination, (this.outboxPerDestination.get(destination) ?? 0) + 1);
  }

  /** Returns the sending device if the row was in the outbox. */
  private outboxRemove(destination: string, id: string): string | undefined {
    const key = outboxKey(destination, id);
    const device = this.outboxRows.get(key);
    if (device === undefined) return undefined;
    this.outboxRows.delete(key);
    const dec = (m: Map<string, number>, k: string) => {
      const n = (m.get(k) ?? 1) - 1;
      if (n > 0) m.set(k, n);
      else m.delete(k);
    };
    dec(this.outboxPerDevice, device);
    dec(this.outboxPerDestination, destination);
    return device;
  }

  private unacked(device: string): number {
    let n = this.inboxUnacked.get(device);
    if (n === undefined) {
      n = this.st.inboxCount.get(device)!.n;
      this.inboxUnacked.set(device, n);
    }
    return n;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  // ---- devices ------------------------------------------------------------------------------------------

  uiDeviceId(): string {
    return uiDeviceId(this.deps.nodeId());
  }

  /** The UI device's public key, if the desktop UI registered one. */
  uiPublicKey(): string | undefined {
    const row = this.st.uiGet.get();
    return row && row.device_id === this.uiDeviceId() ? row.public_key : undefined;
  }

  /** PUT /api/admin/messages/device: the desktop UI's messaging key (replaces an earlier one). */
  setUiPublicKey(publicKey: string): string {
    const id = this.uiDeviceId();
    const before = this.uiPublicKey();
    if (before !== publicKey) {
      const now = this.iso();
      this.deps.sqlite.transaction(() => {
        this.st.uiDeleteAll.run();
        this.st.uiInsert.run(id, publicKey, now);
      })();
      this.localIdCache = undefined;
      this.deps.log.info({ device_id: id }, 'desktop UI messaging key registered');
      if (before !== undefined) this.deps.uiKeyReplaced?.(id);
      this.checkLocalDevices();
    }
    return id;
  }

  localDevices(): DirectoryDevice[] {
    const out: DirectoryDevice[] = this.st.phones
      .all()
      .map((p) => ({ device_id: p.id, public_key: p.public_key, name: p.name, kind: 'phone' as const }));
    const ui = this.uiPublicKey();
    if (ui) out.push({ device_id: this.uiDeviceId(), public_key: ui, name: this.deps.nodeName(), kind: 'desktop' });
    return out;
  }

  /** Devices whose inbox lives here: paired phones with a key, and the UI device (its id is ours by construction). */
  private localIds(): Set<string> {
    if (this.localIdCache) return this.localIdCache;
    const ids = new Set(this.st.phones.all().map((p) => p.id));
    ids.add(this.uiDeviceId());
    this.localIdCache = ids;
    return ids;
  }

  /** `deviceId`'s inbox lives on this node. */
  isLocal(deviceId: string): boolean {
    return this.localIds().has(deviceId);
  }

  onLocalDevicesChanged(fn: () => void): () => void {
    if (this.deviceListeners.size === 0) this.lastDevicesKey = JSON.stringify(this.localDevices());
    this.deviceListeners.add(fn);
    return () => this.deviceListeners.delete(fn);
  }

  /** Compares the published set with the last one seen; tells listeners only when it really changed. */
  private checkLocalDevices(): void {
    if (this.deviceListeners.size === 0) return;
    let key: string;
    try {
      key = JSON.stringify(this.localDevices());
    } catch {
      return; // database closed while stopping
    }
    if (key === this.lastDevicesKey) return;
    this.lastDevicesKey = key;
    for (const fn of [...this.deviceListeners]) {
      try {
        fn();
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, 'local devices listener failed');
      }
    }
  }

  setRemoteDirectory(entries: RemoteEntry[]): void {
    this.remote = entries;
    this.remoteNodes = new Map(entries.map((e) => [e.device_id, e.node]));
    for (const fn of [...this.remoteListeners]) {
      try {
        fn();
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, 'remote directory listener failed');
      }
    }
  }

  /** The cloud's directory as last fetched (other nodes' devices). */
  remoteDirectory(): readonly RemoteEntry[] {
    return this.remote;
  }

  /** The cloud's directory (as last fetched) lists `deviceId`. */
  remoteKnows(deviceId: string): boolean {
    return this.remoteNodes.has(deviceId);
  }

  /** The node (its cloud device id: base64url of its static key) the cloud's directory says serves `deviceId`. */
  remoteNodeOf(deviceId: string): string | undefined {
    return this.remoteNodes.get(deviceId);
  }

  /** Called after setRemoteDirectory() (the router looks again at envelopes waiting for a desktop that is away). */
  onRemoteDirectory(fn: () => void): () => void {
    this.remoteListeners.add(fn);
    return () => this.remoteListeners.delete(fn);
  }

  knowsDevice(deviceId: string): boolean {
    return this.remoteNodes.has(deviceId) || this.localIds().has(deviceId);
  }

  // ---- outbound -------------------------------------------------------------------------------------------

  /**
   * Commits a validated envelope from `fromDevice` (the caller checked from_device === fromDevice) as the router
   * planned it: an inbox row for each local recipient (delivered at once, route local; refused at its inbox cap),
   * one outbox row per other destination, a recipient row each. Resolves after the commit, with the local inbox
   * rows pushed. Idempotent by envelope id: the same envelope again answers its current status and writes
   * nothing (the first plan stands); another envelope under a known id fails with 409 invalid_envelope (reason
   * 'id_conflict').
   */
  enqueue(fromDevice: string, envelope: Envelope, plan: readonly RecipientPlan[]): Promise<EnqueueResult> {
    const body = JSON.stringify(envelope);
    const hash = createHash('sha256').update(body).digest('hex');
    const destinations = [...new Set(plan.filter((p) => p.destination !== LOCAL).map((p) => p.destination))];
    type Work =
      | { fresh: false; accepted: SendAccepted }
      | { conflict: true }
      | { full: true }
      | { fresh: true; accepted: SendAccepted; stored: { device: string; seq: number }[]; receivedAt: string };
    return this.commit
      .run<Work>({
        work: (): Work => {
          const known = this.st.sentGet.get(envelope.id);
          if (known) {
            if (known.body_hash !== hash || known.from_device !== fromDevice) return { conflict: true };
            return { fresh: false, accepted: { id: envelope.id, status: known.status, ...(known.route ? { route: known.route } : {}) } };
          }
          // Counted before this turn's other sends are added (after()): a burst in one turn may pass the cap by
          // that turn's sends, which is bounded by what one turn can take in. A send that queues nothing (every
          // recipient is local) is never refused by it.
          if (destinations.length > 0 && (this.outboxPerDevice.get(fromDevice) ?? 0) >= this.caps.outboxPerDevice) return { full: true };
          const now = this.iso();
          const states: RecipientRow[] = [];
          const stored: { device: string; seq: number }[] = [];
          for (const p of plan) {
            if (p.destination !== LOCAL) {
              states.push({ device_id: p.device, destination: p.destination, status: 'queued', route: null, error: null });
              continue;
            }
            if (this.unacked(p.device) >= this.caps.inboxPerDevice && !this.st.inboxHas.get(envelope.id, p.device)) {
              states.push({ device_id: p.device, destination: LOCAL, status: 'failed', route: null, error: 'recipient_backlog_full' });
              continue;
            }
            const r = this.st.inboxInsert.run(envelope.id, p.device, body, now, fromDevice, LOCAL);
            if (r.changes === 1) {
              stored.push({ device: p.device, seq: Number(r.lastInsertRowid) });
              this.inboxUnacked.set(p.device, this.unacked(p.device) + 1);
            }
            states.push({ device_id: p.device, destination: LOCAL, status: 'delivered', route: 'local', error: null });
          }
          const agg = aggregateStatus(states);
          this.st.sentInsert.run(envelope.id, fromDevice, JSON.stringify(envelope.to), hash, agg.status, agg.error, agg.route, now, now);
          for (const s of states) this.st.recipientInsert.run(envelope.id, s.device_id, s.destination, s.status, s.route, s.error, now);
          for (const d of destinations) this.st.outboxInsert.run(envelope.id, d, 'envelope', fromDevice, body, now);
          const accepted: SendAccepted = { id: envelope.id, status: agg.status, ...(agg.route ? { route: agg.route } : {}) };
          return { fresh: true, accepted, stored, receivedAt: now };
        },
        after: (r) => {
          if (!('fresh' in r) || !r.fresh) return;
          for (const d of destinations) this.outboxAdd(d, envelope.id, fromDevice);
          for (const s of r.stored) this.pushTo(s.device, { type: 'envelope', seq: s.seq, envelope, received_at: r.receivedAt });
          if (r.accepted.status !== 'queued') {
            this.pushTo(fromDevice, {
              type: 'message_status',
              id: envelope.id,
              status: r.accepted.status,
              ...(r.accepted.route ? { route: r.accepted.route } : {}),
            });
          }
        },
      })
      .then(
        (r) => {
          if ('conflict' in r) {
            throw new DomainError(
              'invalid_envelope',
              `Another envelope was already sent under id ${envelope.id}; a resend must be byte-for-byte the same envelope.`,
              { reason: 'id_conflict' },
            );
          }
          if ('full' in r) {
            throw new DomainError(
              'outbox_full',
              `${this.caps.outboxPerDevice} of your messages are still waiting to leave this node; nothing was queued. Try again once some have gone.`,
              { limit: this.caps.outboxPerDevice },
            );
          }
          this.maybePrune();
          return { accepted: r.accepted, queuedFor: r.fresh ? destinations : [] };
        },
        (err: unknown) => {
          this.inboxUnacked.clear(); // the counts may be ahead of the rolled-back disk
          throw err;
        },
      );
  }

  /** Tells the cloud link that rows for the cloud were committed (the router's cloud transport calls it). */
  notifyCloudQueued(): void {
    for (const fn of [...this.queuedListeners]) {
      try {
        fn();
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, 'onQueued listener failed');
      }
    }
  }

  onQueued(fn: () => void): () => void {
    this.queuedListeners.add(fn);
    return () => this.queuedListeners.delete(fn);
  }

  pendingOutbound(afterSeq: number, limit: number): OutboundEnvelope[] {
    // The stored text is the validated envelope as JSON: the link sends it as is, and nothing parses it again
    // unless someone reads `envelope`. A row whose outcome is still being committed may show up for that one
    // turn (only a reconnect reads rows the link already sent); sending it again is harmless, ids are idempotent.
    return this.st.outboxCloudAfter.all(afterSeq, Math.max(0, Math.floor(limit))).map((r) => outbound(r.seq, r.envelope_id, r.body));
  }

  /** Envelopes still waiting for the cloud's answer. */
  outboxSize(): number {
    return this.outboxPerDestination.get(CLOUD) ?? 0;
  }

  /** Envelope rows waiting for `destination` (no query). */
  waitingFor(destination: string): number {
    return this.outboxPerDestination.get(destination) ?? 0;
  }

  /** The destinations other than the cloud with envelope rows waiting (no query). */
  peerDestinations(): string[] {
    return [...this.outboxPerDestination.keys()].filter((d) => d !== CLOUD);
  }

  accepted(id: string): void {
    this.cloudOutcomeLogged(id, { pick: (r) => r.destination === CLOUD, to: 'sent', route: 'cloud', error: null });
  }

  rejected(id: string, code: string, message: string): void {
    this.deps.log.warn({ id, code, message }, 'the cloud rejected an envelope');
    this.cloudOutcomeLogged(id, { pick: (r) => r.destination === CLOUD, to: 'failed', route: null, error: code });
  }

  /**
   * The node(s) serving `deviceIds` stored it (a cloud receipt). Whatever route those recipients were planned
   * for: the cloud carries the whole envelope to every recipient's node, so its receipt is true for each.
   * Resolves once the status is committed (the link acks the receipt after that).
   */
  delivered(id: string, deviceIds: string[]): Promise<void> {
    const ids = new Set(deviceIds);
    return this.cloudOutcome(id, { pick: (r) => ids.has(r.device_id), to: 'delivered', route: 'cloud', error: null });
  }

  /**
   * The node(s) of `deviceIds` refused to store it (`code`, e.g. recipient_backlog_full): those recipients
   * 'failed', also after 'delivered' (the device did not get it, and the sender must learn that).
   */
  refused(id: string, deviceIds: string[], code: string): Promise<void> {
    const ids = new Set(deviceIds);
    return this.cloudOutcome(id, { pick: (r) => ids.has(r.device_id), to: 'failed', route: null, error: code, alsoFrom: 'delivered' });
  }

  private cloudOutcomeLogged(id: string, t: Transition): void {
    this.cloudOutcome(id, t).catch((err: Error) => {
      // Still in the outbox: the next connection sends it again and the cloud answers again.
      this.deps.log.error({ id, status: t.to, err: err.message }, 'could not store a message status');
    });
  }

  /**
   * Every answer from the cloud is final for its outbox row (the row goes); the recipients it is about move
   * forward only. Resolves after the commit (and the push to the sender's device).
   */
  private cloudOutcome(id: string, t: Transition): Promise<void> {
    const wasQueued = this.outboxRemove(CLOUD, id);
    return this.commit
      .run<StatusChange | undefined>({
        work: () => {
          this.st.outboxDelete.run(id, CLOUD, 'envelope');
          return this.transition(id, t);
        },
        after: (change) => this.pushChange(change),
      })
      .then(
        () => undefined,
        (err: unknown) => {
          if (wasQueued !== undefined) this.outboxAdd(CLOUD, id, wasQueued); // rolled back: still in the outbox
          throw err;
        },
      );
  }

  /** Inside a unit: moves the picked recipients of `id` forward, then the message's aggregate. */
  private transition(id: string, t: Transition): StatusChange | undefined {
    const sent = this.st.sentGet.get(id);
    if (!sent) return undefined;
    const rows = this.st.recipientsOf.all(id);
    const now = this.iso();
    let changed = false;
    for (const r of rows) {
      if (!t.pick(r)) continue;
      const forward = isForward(r.status, t.to) || (t.alsoFrom !== undefined && r.status === t.alsoFrom && t.to === 'failed');
      if (!forward) continue;
      r.status = t.to;
      r.route = t.route ?? r.route;
      r.error = t.to === 'failed' ? t.error : null;
      this.st.recipientSet.run(r.status, r.route, r.error, now, id, r.device_id);
      changed = true;
    }
    if (!changed) return undefined;
    const agg = aggregateStatus(rows);
    if (agg.status === sent.status && agg.route === sent.route && agg.error === sent.error) return undefined;
    this.st.sentSet.run(agg.status, agg.error, agg.route, now, id);
    return {
      sender: sent.from_device,
      push: {
        type: 'message_status',
        id,
        status: agg.status,
        ...(agg.route ? { route: agg.route } : {}),
        ...(agg.error !== null ? { error: agg.error } : {}),
      },
    };
  }

  private pushChange(change: StatusChange | undefined): void {
    if (change) this.pushTo(change.sender, change.push);
  }

  /** What `deviceId` sent and how far each got: the newest OUTBOX_VIEW_LIMIT, oldest first. */
  outboxFor(deviceId: string): MessageStatusView[] {
    return this.st.sentView.all(deviceId, OUTBOX_VIEW_LIMIT).map((r) => ({
      id: r.envelope_id,
      to: JSON.parse(r.to) as string[],
      status: r.status,
      created_at: r.created_at,
      ...(r.route !== null ? { route: r.route } : {}),
      ...(r.error !== null ? { error: r.error } : {}),
    }));
  }

  // ---- the peer link's outbox ---------------------------------------------------------------------------

  /** Outbox rows for peer `nodeId` (envelopes and seen receipts) with seq > afterSeq, oldest first. */
  pendingForPeer(nodeId: string, afterSeq: number, limit: number): PeerOutboundItem[] {
    return this.st.outboxAfter.all(nodeId, afterSeq, Math.max(0, Math.floor(limit))).map((r): PeerOutboundItem => {
      if (r.kind === 'envelope') return { seq: r.seq, kind: 'envelope', id: r.envelope_id, json: r.body };
      const seen = JSON.parse(r.body) as { id: string; device_ids: string[] };
      return { seq: r.seq, kind: 'seen', id: r.envelope_id, deviceIds: seen.device_ids };
    });
  }

  /**
   * Peer `nodeId` durably took outbox row `item`: the row goes; for an envelope, its recipients planned for that
   * peer become 'delivered' (route lan), those it refused 'failed'. A row that is gone (acked twice, or moved to
   * the cloud meanwhile) or that was replaced under a newer seq (a seen receipt that grew) is left alone.
   */
  peerAcked(nodeId: string, item: { seq: number; kind: 'envelope' | 'seen'; id: string }, refused?: PeerRefusal): Promise<void> {
    const refusedIds = new Set(refused?.device_ids ?? []);
    return this.commit
      .run<{ change: StatusChange | undefined; removed: boolean }>({
        work: () => {
          const row = this.st.outboxGet.get(item.id, nodeId, item.kind);
          if (!row || row.seq !== item.seq) return { change: undefined, removed: false };
          this.st.outboxDelete.run(item.id, nodeId, item.kind);
          if (item.kind === 'seen') return { change: undefined, removed: true };
          const delivered = this.transition(item.id, {
            pick: (r) => r.destination === nodeId && !refusedIds.has(r.device_id),
            to: 'delivered',
            route: 'lan',
            error: null,
          });
          const failed =
            refusedIds.size === 0
              ? undefined
              : this.transition(item.id, {
                  pick: (r) => r.destination === nodeId && refusedIds.has(r.device_id),
                  to: 'failed',
                  route: null,
                  error: refused!.error,
                  alsoFrom: 'delivered',
                });
          return { change: failed ?? delivered, removed: true };
        },
        after: ({ change, removed }) => {
          if (removed && item.kind === 'envelope') this.outboxRemove(nodeId, item.id);
          this.pushChange(change);
        },
      })
      .then(() => undefined);
  }

  /** Peer `nodeId` says its devices `deviceIds` saw our envelope `id` (only recipients `servedBy` that peer count). */
  seenFromPeer(id: string, deviceIds: string[], servedBy: (r: { device_id: string; destination: string }) => boolean): Promise<void> {
    const ids = new Set(deviceIds);
    return this.commit
      .run<StatusChange | undefined>({
        work: () => this.transition(id, { pick: (r) => ids.has(r.device_id) && servedBy(r), to: 'seen', route: null, error: null }),
        after: (change) => this.pushChange(change),
      })
      .then(() => undefined);
  }

  /**
   * Moves the envelopes waiting for peer `nodeId` to the cloud, each whose recipients there `cloudKnows`: a new
   * 'cloud' row (a new seq, so the cloud link, which reads past its cursor, sees it) and the peer row deleted, in
   * one unit. Resolves with how many moved.
   */
  moveToCloud(nodeId: string, cloudKnows: (deviceIds: string[]) => boolean): Promise<number> {
    return this.commit
      .run<{ id: string; device: string }[]>({
        work: () => {
          const moved: { id: string; device: string }[] = [];
          const now = this.iso();
          for (const row of this.st.outboxEnvelopesFor.all(nodeId)) {
            const devices = this.st.recipientsOf
              .all(row.envelope_id)
              .filter((r) => r.destination === nodeId)
              .map((r) => r.device_id);
            if (devices.length > 0 && !cloudKnows(devices)) continue;
            // An envelope that also had cloud recipients may still have its cloud row: the cloud carries it to every
            // recipient's node, so that row serves these too.
            this.st.outboxInsert.run(row.envelope_id, CLOUD, 'envelope', row.from_device, row.body, now);
            this.st.outboxDelete.run(row.envelope_id, nodeId, 'envelope');
            this.st.recipientsMove.run(CLOUD, now, row.envelope_id, nodeId);
            moved.push({ id: row.envelope_id, device: row.from_device });
          }
          return moved;
        },
        after: (moved) => {
          for (const m of moved) {
            this.outboxRemove(nodeId, m.id);
            this.outboxAdd(CLOUD, m.id, m.device);
          }
        },
      })
      .then((moved) => moved.length);
  }

  // ---- inbound --------------------------------------------------------------------------------------------

  /**
   * An envelope from the cloud. Resolves with the recipients it was NOT stored for because their inbox is at its
   * cap (the link tells the cloud, which tells the sender). A device whose inbox already holds this id is not
   * refused (a redelivery).
   */
  storeInbound(envelope: Envelope): Promise<{ refused: string[] }> {
    return this.storeFrom(CLOUD, envelope);
  }

  /** An envelope that came from `origin` ('cloud' or a paired desktop's node id), for our local recipients. */
  storeFrom(origin: string, envelope: Envelope): Promise<{ refused: string[] }> {
    const local = this.localIds();
    const recipients = envelope.to.filter((d) => local.has(d));
    if (recipients.length === 0) {
      this.deps.log.warn({ id: envelope.id, origin }, 'an envelope came with no recipient on this node; dropped');
      return Promise.resolve({ refused: [] });
    }
    const body = JSON.stringify(envelope);
    return this.commit
      .run<InboundResult>({
        work: () => {
          const receivedAt = this.iso();
          const stored: InboundResult['stored'] = [];
          const full: string[] = [];
          for (const device of recipients) {
            if (this.unacked(device) >= this.caps.inboxPerDevice && !this.st.inboxHas.get(envelope.id, device)) {
              full.push(device);
              continue;
            }
            const r = this.st.inboxInsert.run(envelope.id, device, body, receivedAt, envelope.from_device, origin);
            if (r.changes === 1) {
              stored.push({ device, seq: Number(r.lastInsertRowid) });
              this.inboxUnacked.set(device, this.unacked(device) + 1);
            }
          }
          return { stored, full, receivedAt };
        },
        after: ({ stored, full, receivedAt }) => {
          for (const s of stored) this.pushTo(s.device, { type: 'envelope', seq: s.seq, envelope, received_at: receivedAt });
          if (full.length > 0)
            this.deps.log.warn(
              { id: envelope.id, origin, devices: full, cap: this.caps.inboxPerDevice },
              'inbox full: refused an envelope',
            );
        },
      })
      .then(
        (r) => ({ refused: r.full }),
        (err: unknown) => {
          this.inboxUnacked.clear(); // the counts may be ahead of the rolled-back disk
          throw err;
        },
      );
  }

  /** Envelopes for `deviceId` with seq > after, oldest first. */
  inboxPage(deviceId: string, after: number, limit: number): InboxPage {
    const rows = this.st.inboxPage.all(deviceId, after, limit);
    const messages: InboxItem[] = rows.map((r) => ({ seq: r.seq, envelope: JSON.parse(r.body) as Envelope, received_at: r.received_at }));
    return { messages, next_after: rows.length > 0 ? rows[rows.length - 1]!.seq : after };
  }

  /**
   * The device has everything up to `upToSeq`: forget those envelopes (of this device only), keep tombstones,
   * and tell each sender it was seen: a local sender's recipient row becomes 'seen' (pushed), a paired desktop
   * that sent one gets a 'seen' outbox row (one per envelope, naming every device of ours that saw it). Through
   * the cloud nothing goes back. One transaction; returns how many rows and the peers that got a 'seen' row.
   */
  ack(deviceId: string, upToSeq: number): { removed: number; peers: string[] } {
    const floor = this.ackFloor.get(deviceId) ?? 0;
    const now = this.iso();
    const changes: (StatusChange | undefined)[] = [];
    const peers = new Set<string>();
    const removed = this.deps.sqlite.transaction(() => {
      const rows = this.st.inboxAck.all(now, deviceId, floor, upToSeq);
      for (const r of rows) {
        if (r.origin === LOCAL) {
          changes.push(
            this.transition(r.envelope_id, {
              pick: (x) => x.device_id === deviceId && x.destination === LOCAL,
              to: 'seen',
              route: null,
              error: null,
            }),
          );
        } else if (r.origin !== null && r.origin !== CLOUD) {
          this.queueSeen(r.origin, r.envelope_id, deviceId, now);
          peers.add(r.origin);
        }
      }
      return rows.length;
    })();
    if (removed > 0) this.inboxUnacked.delete(deviceId); // read again on the next delivery
    const max = this.st.inboxMaxSeq.get()?.m ?? 0;
    this.ackFloor.set(deviceId, Math.max(floor, Math.min(upToSeq, max)));
    for (const c of changes) this.pushChange(c);
    return { removed, peers: [...peers] };
  }

  /**
   * A 'seen' receipt for peer `nodeId`. If one for this envelope is still waiting, it is replaced by one naming
   * both devices under a NEW seq (a link that already sent the old one sends the new one too; its ack of the old
   * seq then finds nothing to delete).
   */
  private queueSeen(nodeId: string, id: string, deviceId: string, now: string): void {
    const existing = this.st.outboxGet.get(id, nodeId, 'seen');
    let deviceIds = [deviceId];
    if (existing) {
      const prev = (JSON.parse(existing.body) as { device_ids: string[] }).device_ids;
      if (prev.includes(deviceId)) return;
      deviceIds = [...prev, deviceId];
      this.st.outboxDelete.run(id, nodeId, 'seen');
    }
    this.st.outboxInsert.run(id, nodeId, 'seen', deviceId, JSON.stringify({ id, device_ids: deviceIds }), now);
  }

  inboxSize(deviceId: string): number {
    return this.st.inboxCount.get(deviceId)!.n;
  }

  private pushTo(deviceId: string, frame: DevicePush): void {
    try {
      if (deviceId === this.uiDeviceId()) this.deps.sendToUi(frame);
      else this.deps.sendToDevice(deviceId, frame);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, device_id: deviceId }, 'message push failed');
    }
  }

  // ---- housekeeping ---------------------------------------------------------------------------------------

  /** Forgets final statuses older than SENT_STATUS_KEEP_MS and inbox tombstones older than INBOX_TOMBSTONE_KEEP_MS; returns how many. */
  prune(now = this.now()): number {
    this.lastPrune = now;
    const before = new Date(now - SENT_STATUS_KEEP_MS).toISOString();
    return this.deps.sqlite.transaction(() => {
      this.st.recipientsPrune.run(before);
      return this.st.sentPrune.run(before).changes + this.st.inboxPrune.run(new Date(now - INBOX_TOMBSTONE_KEEP_MS).toISOString()).changes;
    })();
  }

  private maybePrune(): void {
    if (this.now() - this.lastPrune < 60 * 60 * 1000) return;
    try {
      this.prune();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'pruning sent statuses failed');
    }
  }
}
