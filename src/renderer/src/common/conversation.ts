// What a messaging device (the phone page, the desktop UI) remembers of its conversations: the messages it
// sent (text kept here, status from the node's outbox and pushes) and the messages it received (opened here,
// then acked, after which the node forgets them). No DOM: the Messages section (messages/messages.tsx) renders it.
import type { OpenedMessage } from '../../../shared/client/messaging-client.js';
import type { FileManifest } from '../../../shared/e2ee/file-manifest.js';
import type { MessageStatus, MessageStatusView, Route } from '../../../shared/wire/relay.js';

export interface SentMessage {
  dir: 'out';
  id: string;
  /** The device it went to. */
  peer: string;
  /** Null when the node's outbox lists a message this page did not keep the text of. */
  text: string | null;
  sent_at: string;
  status: MessageStatus;
  /** How it went (the farthest route with several recipients); absent while queued. */
  route?: Route;
  error?: string;
  /** A file message: its manifest (then `text` is the file's name). */
  file?: FileManifest;
  /** Sent by another of this person's linked devices (a copy): that device. */
  via?: string;
}

/**
 * A group's conversation is kept under this peer id. It starts with `#`, which no device id may hold
 * (DeviceId), so a device cannot choose an id that puts its messages into a group's conversation.
 */
const GROUP_PEER_PREFIX = '#group:';
export const groupPeer = (groupId: string) => `${GROUP_PEER_PREFIX}${groupId}`;
export const groupIdOf = (peer: string | undefined) =>
  peer?.startsWith(GROUP_PEER_PREFIX) ? peer.slice(GROUP_PEER_PREFIX.length) : undefined;

/** A person's conversation (all of a contact's linked devices), kept under this peer id, as a group's. */
const PERSON_PEER_PREFIX = '#person:';
export const personPeer = (personId: string) => `${PERSON_PEER_PREFIX}${personId}`;
export const personIdOf = (peer: string | undefined) =>
  peer?.startsWith(PERSON_PEER_PREFIX) ? peer.slice(PERSON_PEER_PREFIX.length) : undefined;

export interface ReceivedMessage {
  dir: 'in';
  id: string;
  /**
   * The device it came from, or the group it was sent in (groupPeer), or the person who sent it from one of
   * their linked devices (personPeer); for those two, `author` is the device.
   */
  peer: string;
  author?: string;
  /** Null when the envelope could not be opened (then `error` says why): never shown as text. */
  text: string | null;
  sent_at: string;
  error?: string;
  unread: boolean;
  /** A file message: its manifest (then `text` is the file's name); the file itself is fetched on demand. */
  file?: FileManifest;
}

export type ConversationMessage = SentMessage | ReceivedMessage;

/** Statuses only move forward: a late outbox answer must not turn "delivered" back into "sent". */
const RANK: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, seen: 3, failed: 3 };
/** The node reports the farthest route taken (local < lan < cloud): a late answer must not undo a fallback. */
const ROUTE_RANK: Record<Route, number> = { local: 0, lan: 1, cloud: 2 };
/** Most messages kept on this device; the oldest go first. */
export const MAX_KEPT = 500;
/**
 * Thumbnails kept with the newest file messages only: each may be ~43 KB of text, and localStorage holds a few
 * MB for the whole page. An older file message keeps its name, size and key, and shows no preview.
 */
export const MAX_KEPT_THUMBS = 40;

/** Oldest first: by the sender's sent_at, then by id (UUIDv7, so also time-ordered). */
export function compareMessages(a: ConversationMessage, b: ConversationMessage): number {
  return a.sent_at < b.sent_at ? -1 : a.sent_at > b.sent_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Ids of envelopes that are no message (a group's or a link's own traffic) kept, newest last: bounded. */
export const MAX_HIDDEN = 2000;

export class Conversations {
  private readonly byId = new Map<string, ConversationMessage>();
  /**
   * Envelopes this device sent that are no message of their own (a group change, a sender key, an offer to link,
   * the further envelopes of one group message): the node's outbox lists them, the conversations never do.
   */
  private readonly hidden = new Set<string>();
  /** Status pushes that came before the send's own answer. */
  private readonly early = new Map<string, { status: MessageStatus; error?: string; route?: Route }>();

  /** @param storageKey where to keep them (localStorage), or undefined to keep them in memory only. */
  constructor(
    private readonly storageKey?: string,
    private readonly storage: Storage | undefined = globalThis.localStorage,
  ) {
    if (!storageKey || !storage) return;
    try {
      const saved = JSON.parse(storage.getItem(storageKey) ?? '[]') as ConversationMessage[];
      if (Array.isArray(saved))
        for (const m of saved) if (m && typeof m.id === 'string' && (m.dir === 'in' || m.dir === 'out')) this.byId.set(m.id, m);
    } catch {
      // unreadable: start empty rather than fail the page
    }
    try {
      const hidden = JSON.parse(storage.getItem(`${storageKey}.hidden`) ?? '[]') as unknown;
      if (Array.isArray(hidden)) for (const id of hidden) if (typeof id === 'string') this.hidden.add(id);
    } catch {
      // unreadable: such envelopes may show once as "text not kept", nothing worse
    }
  }

  /** These envelopes are no message (see `hidden`): never listed, kept across reloads. */
  hide(ids: readonly string[]): void {
    let added = false;
    for (const id of ids) {
      if (this.hidden.has(id)) continue;
      this.hidden.add(id);
      added = true;
    }
    if (!added) return;
    for (const id of this.hidden) {
      if (this.hidden.size <= MAX_HIDDEN) break;
      this.hidden.delete(id);
    }
    if (this.storageKey && this.storage) this.storage.setItem(`${this.storageKey}.hidden`, JSON.stringify([...this.hidden]));
  }

  save(): void {
    if (!this.storageKey || !this.storage) return;
    const all = [...this.byId.values()].sort(compareMessages);
    for (const m of all.slice(0, Math.max(0, all.length - MAX_KEPT))) this.byId.delete(m.id);
    const kept = all.slice(-MAX_KEPT);
    let thumbs = 0;
    const stored = kept
      .reverse()
      .map((m) => {
        if (!m.file?.thumb || ++thumbs <= MAX_KEPT_THUMBS) return m;
        const { thumb: _dropped, ...file } = m.file;
        return { ...m, file };
      })
      .reverse();
    this.storage.setItem(this.storageKey, JSON.stringify(stored));
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** A message kept here, or an envelope of ours that is none (hidden): no outbox read needed for its status. */
  known(id: string): boolean {
    return this.byId.has(id) || this.hidden.has(id);
  }

  /** A message this device just handed to its node (with `file`, a file message named `text`). */
  addSent(id: string, peer: string, text: string, sentAt: string, status: MessageStatus, file?: FileManifest): void {
    const known = this.byId.get(id);
    const m: SentMessage =
      known?.dir === 'out'
        ? { ...known, text, ...(file ? { file } : {}) }
        : { dir: 'out', id, peer, text, sent_at: sentAt, status, ...(file ? { file } : {}) };
    this.byId.set(id, m);
    this.applyStatus(id, status);
    const early = this.early.get(id);
    if (early) {
      this.early.delete(id);
      this.applyStatus(id, early.status, early.error, early.route);
    }
  }

  /** A status (and the route it took, when known) from a push, a send's answer or the outbox. Returns whether anything changed. */
  applyStatus(id: string, status: MessageStatus, error?: string, route?: Route): boolean {
    const m = this.byId.get(id);
    if (!m && this.hidden.has(id)) return false;
    if (!m) {
      // Several pushes may beat the send's answer (delivered, then seen): keep the most advanced.
      const before = this.early.get(id);
      if (before && RANK[status] < RANK[before.status]) {
        if (route !== undefined && (before.route === undefined || ROUTE_RANK[route] > ROUTE_RANK[before.route])) before.route = route;
        return false;
      }
      const keptRoute = route ?? before?.route;
      this.early.set(id, { status, ...(error !== undefined ? { error } : {}), ...(keptRoute !== undefined ? { route: keptRoute } : {}) });
      return false;
    }
    if (m.dir !== 'out' || RANK[status] < RANK[m.status]) return false;
    const statusChanged = m.status !== status || m.error !== error;
    const routeChanged = route !== undefined && (m.route === undefined || ROUTE_RANK[route] > ROUTE_RANK[m.route]);
    if (!statusChanged && !routeChanged) return false;
    if (statusChanged) {
      m.status = status;
      if (error !== undefined) m.error = error;
      else delete m.error;
    }
    if (routeChanged) m.route = route;
    return true;
  }

  /** The node's outbox (what this device sent, with statuses). Returns whether anything changed. */
  mergeOutbox(views: readonly MessageStatusView[]): boolean {
    let changed = false;
    for (const v of views) {
      if (this.byId.has(v.id)) changed = this.applyStatus(v.id, v.status, v.error, v.route) || changed;
      else if (v.to[0] && !this.hidden.has(v.id)) {
        this.byId.set(v.id, {
          dir: 'out',
          id: v.id,
          peer: v.to[0],
          text: null,
          sent_at: v.created_at,
          status: v.status,
          ...(v.route ? { route: v.route } : {}),
          ...(v.error ? { error: v.error } : {}),
        });
        changed = true;
      }
    }
    return changed;
  }

  /**
   * An inbox item after openItem(), kept in the conversation `peer` (default: its group's, else its sender's).
   * Returns false for one already here (a push and a refresh may overlap).
   */
  addReceived(m: OpenedMessage, unread: boolean, peer?: string): boolean {
    if (this.byId.has(m.id)) return false;
    const group = m.ok ? m.group_id : undefined;
    const kept = peer ?? (group !== undefined ? groupPeer(group) : m.from_device);
    this.byId.set(m.id, {
      dir: 'in',
      id: m.id,
      peer: kept,
      ...(kept !== m.from_device ? { author: m.from_device } : {}),
      sent_at: m.sent_at,
      unread,
      ...(m.ok ? { text: m.text, ...(m.file ? { file: m.file } : {}) } : { text: null, error: m.error }),
    });
    return true;
  }

  /**
   * What another of our linked devices sent (its copy came to us), kept as sent in the conversation `peer`.
   * Returns false for one already here.
   */
  addCopy(m: OpenedMessage & { ok: true }, peer: string): boolean {
    if (this.byId.has(m.id)) return false;
    this.byId.set(m.id, {
      dir: 'out',
      id: m.id,
      peer,
      text: m.text,
      sent_at: m.sent_at,
      status: 'sent',
      via: m.from_device,
      ...(m.file ? { file: m.file } : {}),
    });
    return true;
  }

  /** Every message kept, oldest first (the conversation list summarizes them). */
  all(): ConversationMessage[] {
    return [...this.byId.values()].sort(compareMessages);
  }

  with(peer: string): ConversationMessage[] {
    return [...this.byId.values()].filter((m) => m.peer === peer).sort(compareMessages);
  }

  unread(peer: string): number {
    let n = 0;
    for (const m of this.byId.values()) if (m.dir === 'in' && m.peer === peer && m.unread) n++;
    return n;
  }

  markRead(peer: string): boolean {
    let changed = false;
    for (const m of this.byId.values()) {
      if (m.dir === 'in' && m.peer === peer && m.unread) {
        m.unread = false;
        changed = true;
      }
    }
    return changed;
  }

  /** The device of the most recent message, if any. */
  latestPeer(): string | undefined {
    let latest: ConversationMessage | undefined;
    for (const m of this.byId.values()) if (!latest || compareMessages(latest, m) < 0) latest = m;
    return latest?.peer;
  }
}
