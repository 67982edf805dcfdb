// The node's durable message store (issue 4): the outbox of envelopes local devices sent (until the cloud takes
// them), the status of what each device sent, the inbox of envelopes for local devices (until they ack), and
// the desktop UI's messaging key. It implements MessageStorePort for the cloud link and the calls the
// messaging routes make. Envelopes are opaque here: the node never sees plaintext.
//
// Durability: enqueue(), storeInbound() and delivered() resolve only after their rows are committed (group
// commit: every call of one event-loop turn shares one transaction, with the nonce claims of that turn too, see
// GroupCommit.shared), so a 202 to a device or an ack to the cloud is never ahead of the disk. accepted() and
// rejected() go into the same group commit (nobody waits for them: until they commit, the row is still in the
// outbox and a reconnect sends it again, which the cloud absorbs by id). Inbox acks are single synchronous
// transactions. Pushes to WebSockets happen after the commit. Every write goes through the one queue, so
// writes commit in the order they were asked for.
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Envelope } from '../../../shared/e2ee/schema.js';
import {
  uiDeviceId, type DirectoryDevice, type DirectoryEntry, type InboxItem, type InboxPage, type InboxPush,
  type MessageStatus, type MessageStatusPush, type MessageStatusView, type MessagingDirectory, type SendAccepted,
} from '../../../shared/wire/relay.js';
import { ApiError } from '../http/api-error.js';
import { GroupCommit } from './group-commit.js';
import type { MessageStorePort, OutboundEnvelope } from './relay-port.js';

/** Sent-message statuses that are final (not 'queued') are forgotten after this long. */
export const SENT_STATUS_KEEP_MS = 30 * 24 * 60 * 60 * 1000;
/** How long an acked inbox row is kept as a tombstone against a redelivery from the cloud (only a crash between
 * storing and acking the cloud causes one, and the link acks right after it reconnects). */
export const INBOX_TOMBSTONE_KEEP_MS = 7 * 24 * 60 * 60 * 1000;
/** Most status rows GET /outbox returns (the newest). */
export const OUTBOX_VIEW_LIMIT = 500;
export const INBOX_PAGE_MAX = 500;
export const INBOX_PAGE_DEFAULT = 100;

/**
 * Bounds of the store (MessageStoreDeps.caps; tests shrink them).
 * inboxPerDevice: unacked envelopes one device's inbox may hold. Past it the node refuses to store more for that
 *   device (the cloud tells the sender: failed, recipient_backlog_full) instead of filling the disk for a phone
 *   that never collects. 5,000 is weeks of busy chat for a phone that is merely away, and at most ~350 MB (at
 *   MAX_ENVELOPE_JSON_BYTES each, typically a few MB) per device.
 * outboxPerDevice: envelopes one device may have waiting for the cloud (the cloud is away). Past it POST
 *   /api/messages answers 429 outbox_full and queues nothing. 1,000 covers a day of sending offline.
 */
export interface MessageStoreCaps { inboxPerDevice: number; outboxPerDevice: number }
export const DEFAULT_MESSAGE_STORE_CAPS: MessageStoreCaps = { inboxPerDevice: 5_000, outboxPerDevice: 1_000 };


export type DevicePush = InboxPush | MessageStatusPush;

/** An outbox row for the link: the JSON text as stored, the parsed envelope only if someone asks for it. */
function outbound(seq: number, id: string, json: string): OutboundEnvelope {
  let parsed: Envelope | undefined;
  return {
    seq, id, json,
    get envelope(): Envelope {
      parsed ??= JSON.parse(json) as Envelope;
      return parsed;
    },
  };
}

export interface MessageStoreDeps {
  /** The raw SQLite handle of the node's database (migrated: outbox, sent_messages, inbox, ui_device). */
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
}

interface InboundResult { stored: { device: string; seq: number }[]; full: string[]; receivedAt: string }

export class MessageStore implements MessageStorePort {
  private readonly commit: GroupCommit;
  private readonly st;
  private readonly queuedListeners = new Set<() => void>();
  private readonly deviceListeners = new Set<() => void>();
  private remote: DirectoryEntry[] = [];
  private remoteIds = new Set<string>();
  private lastDevicesKey: string | undefined;
  private lastPrune = 0;
  private readonly now: () => number;
  private readonly unsubscribeChanges: () => void;
  /** localIds(), until something changes (pairing, unpair, the UI key): it is read on every delivery. */
  private localIdCache: Set<string> | undefined;
  /**
   * The ids in the outbox, as the cloud's answers have it: an id leaves when its outcome (accepted/rejected/
   * delivered) arrives, before that outcome is committed (it comes back if the commit fails). outboxSize() is read
   * on every change of the link's view, so it must not cost a query.
   */
  private readonly outboxIds: Map<string, string>;
  /** Outbox rows per sending device (the outbox cap), kept with outboxIds. */
  private readonly outboxPerDevice = new Map<string, number>();
  /**
   * Unacked inbox rows per device (the inbox cap), read once per device and kept up to date by storeInbound()
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
      sentGet: db.prepare<[string], { from_device: string; body_hash: string; status: MessageStatus }>(
        'SELECT from_device, body_hash, status FROM sent_messages WHERE envelope_id = ?'),
      sentInsert: db.prepare('INSERT INTO sent_messages (envelope_id, from_device, "to", body_hash, status, created_at, updated_at) VALUES (?, ?, ?, ?, \'queued\', ?, ?)'),
      sentSetStatus: db.prepare<[MessageStatus, string | null, string, string]>(
        'UPDATE sent_messages SET status = ?, error = ?, updated_at = ? WHERE envelope_id = ?'),
      sentView: db.prepare<[string, number], { envelope_id: string; to: string; status: MessageStatus; error: string | null; created_at: string }>(
        'SELECT envelope_id, "to", status, error, created_at FROM (SELECT rowid AS r, * FROM sent_messages WHERE from_device = ? ORDER BY created_at DESC, rowid DESC LIMIT ?) ORDER BY created_at, r'),
      sentPrune: db.prepare<[string]>('DELETE FROM sent_messages WHERE status <> \'queued\' AND updated_at < ?'),
      outboxInsert: db.prepare('INSERT INTO outbox (envelope_id, from_device, body, created_at) VALUES (?, ?, ?, ?)'),
      outboxDelete: db.prepare<[string]>('DELETE FROM outbox WHERE envelope_id = ?'),
      outboxAfter: db.prepare<[number, number], { seq: number; envelope_id: string; body: string }>(
        'SELECT seq, envelope_id, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      outboxIds: db.prepare<[], { envelope_id: string; from_device: string }>('SELECT envelope_id, from_device FROM outbox'),
      inboxHas: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM inbox WHERE envelope_id = ? AND to_device = ?'),
      inboxInsert: db.prepare('INSERT OR IGNORE INTO inbox (envelope_id, to_device, body, received_at) VALUES (?, ?, ?, ?)'),
      inboxPage: db.prepare<[string, number, number], { seq: number; body: string; received_at: string }>(
        'SELECT seq, body, received_at FROM inbox WHERE to_device = ? AND seq > ? AND acked_at IS NULL ORDER BY seq LIMIT ?'),
      // Acked rows become tombstones (see the inbox table): the id stays, the envelope goes.
      // `seq > ?`: the device's floor (see ackFloor), so an ack does not walk the device's tombstones again.
      inboxAck: db.prepare<[string, string, number, number]>('UPDATE inbox SET acked_at = ?, body = \'\' WHERE to_device = ? AND seq > ? AND seq <= ? AND acked_at IS NULL'),
      inboxMaxSeq: db.prepare<[], { m: number | null }>('SELECT max(seq) AS m FROM inbox'),
      inboxCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM inbox WHERE to_device = ? AND acked_at IS NULL'),
      inboxPrune: db.prepare<[string]>('DELETE FROM inbox WHERE acked_at IS NOT NULL AND acked_at < ?'),
      phones: db.prepare<[], { id: string; name: string; public_key: string }>(
        'SELECT id, name, public_key FROM mesh_nodes WHERE is_current = 0 AND kind = \'phone\' AND public_key IS NOT NULL ORDER BY name, id'),
      uiGet: db.prepare<[], { device_id: string; public_key: string }>('SELECT device_id, public_key FROM ui_device LIMIT 1'),
      uiDeleteAll: db.prepare('DELETE FROM ui_device'),
      uiInsert: db.prepare('INSERT INTO ui_device (device_id, public_key, updated_at) VALUES (?, ?, ?)'),
    };
    this.outboxIds = new Map();
    for (const r of this.st.outboxIds.all()) this.outboxAdd(r.envelope_id, r.from_device);
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

  private outboxAdd(id: string, device: string): void {
    if (this.outboxIds.has(id)) return;
    this.outboxIds.set(id, device);
    this.outboxPerDevice.set(device, (this.outboxPerDevice.get(device) ?? 0) + 1);
  }

  /** Returns the sending device if `id` was in the outbox. */
  private outboxRemove(id: string): string | undefined {
    const device = this.outboxIds.get(id);
    if (device === undefined) return undefined;
    this.outboxIds.delete(id);
    const n = (this.outboxPerDevice.get(device) ?? 1) - 1;
    if (n > 0) this.outboxPerDevice.set(device, n); else this.outboxPerDevice.delete(device);
    return device;
  }

  private unacked(device: string): number {
    let n = this.inboxUnacked.get(device);
    if (n === undefined) { n = this.st.inboxCount.get(device)!.n; this.inboxUnacked.set(device, n); }
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
    if (this.uiPublicKey() !== publicKey) {
      const now = this.iso();
      this.deps.sqlite.transaction(() => {
        this.st.uiDeleteAll.run();
        this.st.uiInsert.run(id, publicKey, now);
      })();
      this.localIdCache = undefined;
      this.deps.log.info({ device_id: id }, 'desktop UI messaging key registered');
      this.checkLocalDevices();
    }
    return id;
  }

  localDevices(): DirectoryDevice[] {
    const out: DirectoryDevice[] = this.st.phones.all().map((p) => ({ device_id: p.id, public_key: p.public_key, name: p.name, kind: 'phone' as const }));
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
      try { fn(); } catch (err) { this.deps.log.warn({ err: (err as Error).message }, 'local devices listener failed'); }
    }
  }

  setRemoteDirectory(entries: DirectoryEntry[]): void {
    this.remote = entries;
    this.remoteIds = new Set(entries.map((e) => e.device_id));
  }

  knowsDevice(deviceId: string): boolean {
    return this.remoteIds.has(deviceId) || this.localIds().has(deviceId);
  }

  /** The messaging directory as `me` sees it: local devices, then the cloud's (minus ids served here). */
  directory(me: string, cloudStatus: MessagingDirectory['cloud']['status']): MessagingDirectory {
    const local = this.localDevices();
    const localIds = new Set(local.map((d) => d.device_id));
    const remote = this.remote.filter((e) => !localIds.has(e.device_id));
    return {
      me,
      devices: [
        ...local.map((d) => ({ ...d, home: 'local' as const, node_id: this.deps.nodeId(), node_name: this.deps.nodeName(), route: 'local' as const })),
        ...remote.map((e) => ({ device_id: e.device_id, public_key: e.public_key, name: e.name, kind: e.kind, home: 'remote' as const })),
      ],
      nodes: [{ node_id: this.deps.nodeId(), name: this.deps.nodeName(), self: true, online: true }],
      cloud: { status: cloudStatus },
    };
  }

  // ---- outbound -------------------------------------------------------------------------------------------

  /**
   * Queues a validated envelope from `fromDevice` (the caller checked from_device === fromDevice). Resolves
   * after the commit. Idempotent by envelope id: the same envelope again answers its current status; another
   * envelope under a known id fails with 409 invalid_envelope (reason 'id_conflict').
   */
  enqueue(fromDevice: string, envelope: Envelope): Promise<SendAccepted> {
    const body = JSON.stringify(envelope);
    const hash = createHash('sha256').update(body).digest('hex');
    return this.commit.run({
      work: (): { fresh: boolean; status: MessageStatus } | { conflict: true } | { full: true } => {
        const known = this.st.sentGet.get(envelope.id);
        if (known) {
          if (known.body_hash !== hash || known.from_device !== fromDevice) return { conflict: true };
          return { fresh: false, status: known.status };
        }
        // Counted before this turn's other sends are added (after()): a burst in one turn may pass the cap by
        // that turn's sends, which is bounded by what one turn can take in.
        if ((this.outboxPerDevice.get(fromDevice) ?? 0) >= this.caps.outboxPerDevice) return { full: true };
        const now = this.iso();
        this.st.outboxInsert.run(envelope.id, fromDevice, body, now);
        this.st.sentInsert.run(envelope.id, fromDevice, JSON.stringify(envelope.to), hash, now, now);
        return { fresh: true, status: 'queued' };
      },
      after: (r) => {
        if ('fresh' in r && r.fresh) {
          this.outboxAdd(envelope.id, fromDevice);
          this.notifyQueued();
        }
      },
    }).then((r) => {
      if ('conflict' in r) {
        throw new ApiError(409, 'invalid_envelope', `Another envelope was already sent under id ${envelope.id}; a resend must be byte-for-byte the same envelope.`, { reason: 'id_conflict' });
      }
      if ('full' in r) {
        throw new ApiError(429, 'outbox_full', `${this.caps.outboxPerDevice} of your messages are still waiting for the cloud; nothing was queued. Try again once the cloud is back and has taken some.`, { limit: this.caps.outboxPerDevice });
      }
      this.maybePrune();
      return { id: envelope.id, status: r.status };
    });
  }

  private notifyQueued(): void {
    for (const fn of [...this.queuedListeners]) {
      try { fn(); } catch (err) { this.deps.log.warn({ err: (err as Error).message }, 'onQueued listener failed'); }
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
    return this.st.outboxAfter.all(afterSeq, Math.max(0, Math.floor(limit))).map((r) => outbound(r.seq, r.envelope_id, r.body));
  }

  /** Envelopes still waiting for the cloud's answer. */
  outboxSize(): number {
    return this.outboxIds.size;
  }

  accepted(id: string): void {
    this.transitionLogged(id, 'sent', ['queued'], null);
  }

  rejected(id: string, code: string, message: string): void {
    this.deps.log.warn({ id, code, message }, 'the cloud rejected an envelope');
    this.transitionLogged(id, 'failed', ['queued'], code);
  }

  /** Resolves once the status is committed (the link acks the receipt after that). */
  delivered(id: string, _deviceIds: string[]): Promise<void> {
    return this.transition(id, 'delivered', ['queued', 'sent'], null);
  }

  /**
   * The node(s) of `deviceIds` refused to store it (`code`, e.g. recipient_backlog_full): 'failed', also after
   * 'delivered' for other recipients (one recipient did not get it, and the sender must learn that).
   */
  refused(id: string, _deviceIds: string[], code: string): Promise<void> {
    return this.transition(id, 'failed', ['queued', 'sent', 'delivered'], code);
  }

  private transitionLogged(id: string, to: MessageStatus, from: MessageStatus[], error: string | null): void {
    this.transition(id, to, from, error).catch((err: Error) => {
      // Still in the outbox: the next connection sends it again and the cloud answers again.
      this.deps.log.error({ id, status: to, err: err.message }, 'could not store a message status');
    });
  }

  /**
   * Leaves the outbox (every outcome from the cloud is final for the outbox) and moves the status forward only;
   * resolves after the commit (and the push to the sender's device).
   */
  private transition(id: string, to: MessageStatus, from: MessageStatus[], error: string | null): Promise<void> {
    const wasQueued = this.outboxRemove(id);
    return this.commit.run<string | undefined>({
      work: () => {
        this.st.outboxDelete.run(id);
        const row = this.st.sentGet.get(id);
        if (!row || !from.includes(row.status)) return undefined;
        this.st.sentSetStatus.run(to, error, this.iso(), id);
        return row.from_device;
      },
      after: (sender) => {
        if (sender === undefined) return;
        const push: MessageStatusPush = { type: 'message_status', id, status: to, ...(error !== null ? { error } : {}) };
        this.pushTo(sender, push);
      },
    }).then(() => undefined, (err: unknown) => {
      if (wasQueued !== undefined) this.outboxAdd(id, wasQueued); // rolled back: still in the outbox
      throw err;
    });
  }

  /** What `deviceId` sent and how far each got: the newest OUTBOX_VIEW_LIMIT, oldest first. */
  outboxFor(deviceId: string): MessageStatusView[] {
    return this.st.sentView.all(deviceId, OUTBOX_VIEW_LIMIT).map((r) => ({
      id: r.envelope_id, to: JSON.parse(r.to) as string[], status: r.status, created_at: r.created_at,
      ...(r.error !== null ? { error: r.error } : {}),
    }));
  }

  // ---- inbound --------------------------------------------------------------------------------------------

  /**
   * Resolves with the recipients it was NOT stored for because their inbox is at its cap (the link tells the
   * cloud, which tells the sender). A device whose inbox already holds this id is not refused (a redelivery).
   */
  storeInbound(envelope: Envelope): Promise<{ refused: string[] }> {
    const local = this.localIds();
    const recipients = envelope.to.filter((d) => local.has(d));
    if (recipients.length === 0) {
      this.deps.log.warn({ id: envelope.id }, 'an envelope from the cloud has no recipient on this node; dropped');
      return Promise.resolve({ refused: [] });
    }
    const body = JSON.stringify(envelope);
    return this.commit.run<InboundResult>({
      work: () => {
        const receivedAt = this.iso();
        const stored: InboundResult['stored'] = [];
        const full: string[] = [];
        for (const device of recipients) {
          if (this.unacked(device) >= this.caps.inboxPerDevice && !this.st.inboxHas.get(envelope.id, device)) {
            full.push(device);
            continue;
          }
          const r = this.st.inboxInsert.run(envelope.id, device, body, receivedAt);
          if (r.changes === 1) {
            stored.push({ device, seq: Number(r.lastInsertRowid) });
            this.inboxUnacked.set(device, this.unacked(device) + 1);
          }
        }
        return { stored, full, receivedAt };
      },
      after: ({ stored, full, receivedAt }) => {
        for (const s of stored) this.pushTo(s.device, { type: 'envelope', seq: s.seq, envelope, received_at: receivedAt });
        if (full.length > 0) this.deps.log.warn({ id: envelope.id, devices: full, cap: this.caps.inboxPerDevice }, 'inbox full: refused an envelope from the cloud');
      },
    }).then((r) => ({ refused: r.full }), (err: unknown) => {
      this.inboxUnacked.clear(); // the counts may be ahead of the rolled-back disk
      throw err;
    });
  }

  /** Envelopes for `deviceId` with seq > after, oldest first. */
  inboxPage(deviceId: string, after: number, limit: number): InboxPage {
    const rows = this.st.inboxPage.all(deviceId, after, limit);
    const messages: InboxItem[] = rows.map((r) => ({ seq: r.seq, envelope: JSON.parse(r.body) as Envelope, received_at: r.received_at }));
    return { messages, next_after: rows.length > 0 ? rows[rows.length - 1]!.seq : after };
  }

  /** The device has everything up to `upToSeq`: forget those envelopes (of this device only), keep tombstones. */
  ack(deviceId: string, upToSeq: number): number {
    const floor = this.ackFloor.get(deviceId) ?? 0;
    const changes = this.st.inboxAck.run(this.iso(), deviceId, floor, upToSeq).changes;
    if (changes > 0) this.inboxUnacked.delete(deviceId); // read again on the next delivery
    const max = this.st.inboxMaxSeq.get()?.m ?? 0;
    this.ackFloor.set(deviceId, Math.max(floor, Math.min(upToSeq, max)));
    return changes;
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
    return this.st.sentPrune.run(new Date(now - SENT_STATUS_KEEP_MS).toISOString()).changes
      + this.st.inboxPrune.run(new Date(now - INBOX_TOMBSTONE_KEEP_MS).toISOString()).changes;
  }

  private maybePrune(): void {
    if (this.now() - this.lastPrune < 60 * 60 * 1000) return;
    try { this.prune(); } catch (err) { this.deps.log.warn({ err: (err as Error).message }, 'pruning sent statuses failed'); }
  }
}
