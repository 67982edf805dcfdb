// The mesh as the rest of the node sees it: who is paired, who is online, and the operations on that list
// (announce, heartbeat, unpair, pair with another desktop). Every change is reported on the ChangeFeed.
import type { Logger } from 'pino';
import { NODE_SHA256 } from '../../../server/crypto/node-noise.js';
import { DeviceClient } from '../../../shared/client/device-client.js';
import type { PairingSuccess } from '../../../shared/client/pairing-client.js';
import type { PairRequestCreate, PairRequestCreateResponse } from '../../../shared/wire/pair-request.js';
import type {
  AnnounceRequest,
  HeartbeatAttemptView,
  MeshNodeView,
  NodeIdentityPayload,
  PairRemoteRequest,
  PairRemoteResponse,
  PendingPairingView,
} from '../../../shared/wire/schemas.js';
import type { MeshNodeRow, MeshRepository, ReplaceReason } from '../db/mesh-repository.js';
import type { PeerLinkRepository } from '../db/peer-link-repository.js';
import type { SessionRepository } from '../db/session-repository.js';
import { DomainError } from '../errors/domain-error.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { NoticeBoard } from '../events/notices.js';
import { describeFetchError } from '../net/fetch-error.js';
import { hostForUrl } from '../net/lan-addresses.js';
import { PendingConfirmations } from '../pairing/pending-confirmations.js';
import { baseUrlOf, pairWithRemote, sendPairRequest, targetFromPairRequest, targetFromRequest } from '../pairing/remote-pairing.js';
import { type PairRequestOutcome, watchPairRequest } from '../pairing/watch-pair-request.js';
import { meshNodeView, presenceOf } from './mesh-views.js';

/** How long one heartbeat attempt on one address may take before the next address is tried. */
export const HEARTBEAT_ATTEMPT_TIMEOUT_MS = 3_000;

/** How long a declined or expired pair request stays in A's list (the person may have looked away). */
export const OUTCOME_SHOWN_MS = 60_000;

export interface HeartbeatRound {
  at: string;
  tried: HeartbeatAttemptView[];
}

export interface MeshServiceOptions {
  /** Presence thresholds (online / degraded / offline); without it the stored status is shown as is. */
  offlineAfterMs?: number;
  /** Where "device replaced" notices go. */
  notices?: NoticeBoard;
  /**
   * Told before a live desktop pairing is removed by unpair, while its credentials still exist (the peer link
   * keeps them as an unpair notice until the other desktop acknowledged). Not called for a row the peer ended.
   */
  beforeDesktopUnpair?: (nodeId: string) => void;
}

/** What a newly paired device is, for the re-pair-after-reinstall rules. */
export interface PairedCandidate {
  id: string;
  name: string;
  kind: 'desktop' | 'phone';
  publicKey: string;
  deviceInfo: Record<string, unknown>;
}

export class MeshService {
  /** Outgoing desktop pairings waiting for this node's person to compare the short code. */
  private readonly outgoing = new PendingConfirmations<{ paired: PairingSuccess; reachedAt: string }>();
  /** How often A asks B about a pair request (tests shorten it). */
  pairRequestPollMs = { first: 1_000, max: 5_000 };
  /** The last heartbeat round to each peer: every address tried and what happened (diagnostics). */
  private readonly rounds = new Map<string, HeartbeatRound>();
  /** Peers with a heartbeat round in flight: a slow round (dead addresses) must not pile up behind the timer. */
  private readonly inFlight = new Set<string>();
  /** Presence last pushed to the UI, so the sweeper reports online -> degraded transitions too. */
  private lastPresence = new Map<string, string>();

  constructor(
    private readonly mesh: MeshRepository,
    private readonly sessions: SessionRepository,
    private readonly links: PeerLinkRepository,
    private readonly feed: ChangeFeed,
    private readonly log: Logger,
    private readonly opts: MeshServiceOptions = {},
  ) {}

  devices(): MeshNodeView[] {
    const now = Date.now();
    return this.mesh.peers().map((row) => meshNodeView(row, this.opts.offlineAfterMs, now));
  }

  /** A paired device's row (diagnostics). */
  peerRows(): MeshNodeRow[] {
    return this.mesh.peers();
  }

  lastHeartbeatRound(nodeId: string): HeartbeatRound | undefined {
    return this.rounds.get(nodeId);
  }

  /** Addresses a paired node was seen on by mDNS: kept with the others (presence is left to heartbeats). */
  learnAddresses(nodeId: string, addresses: readonly string[]): boolean {
    if (addresses.length === 0 || !this.isPaired(nodeId)) return false;
    const before = this.mesh.get(nodeId)?.addresses;
    if (!this.mesh.addAddresses(nodeId, addresses)) return false;
    if (JSON.stringify(before) !== JSON.stringify(this.mesh.get(nodeId)?.addresses)) this.feed.changed();
    return true;
  }

  /** A paired desktop said goodbye over mDNS: offline at once, until it is heard again. */
  goodbye(nodeId: string): boolean {
    const row = this.mesh.get(nodeId);
    if (!row || row.isCurrent || row.kind !== 'desktop') return false;
    const changed = this.mesh.markOffline(nodeId);
    if (changed) {
      this.log.info({ node_id: nodeId }, 'paired desktop said goodbye (mDNS): offline');
      this.feed.changed();
    }
    return changed;
  }

  /**
   * Re-pair after a reinstall: removes every older row the newly paired device replaces ((a) same node_id with
   * another key, (b) same key under another node_id, (c) same name + kind + platform), revoking its sessions and
   * dropping the link we held on it, and tells the person. `keepSessionId` is the new pairing's own session.
   * Returns what was replaced; never leaves two rows for one device.
   */
  replaceStale(c: PairedCandidate, keepSessionId?: string): { nodeId: string; reason: ReplaceReason }[] {
    const found = this.mesh.findReplaced({
      id: c.id,
      name: c.name,
      kind: c.kind,
      publicKey: c.publicKey,
      platform: c.deviceInfo.platform,
      hostname: c.deviceInfo.hostname,
    });
    for (const { row, reason } of found) {
      if (row.id !== c.id) this.mesh.recordReplacement(row.id, c.id, reason, new Date().toISOString());
      const revoked = this.sessions.revokeAllFor(row.id, row.id === c.id ? keepSessionId : undefined);
      this.links.remove(row.id);
      this.mesh.remove(row.id);
      this.rounds.delete(row.id);
      this.log.warn(
        { old_node_id: row.id, new_node_id: c.id, reason, sessions_revoked: revoked.length },
        'a re-paired device replaced its old record',
      );
      this.opts.notices?.add({ type: 'device_replaced', name: c.name, old_node_id: row.id, new_node_id: c.id });
    }
    if (found.length > 0) this.feed.changed();
    return found.map(({ row, reason }) => ({ nodeId: row.id, reason }));
  }

  isPaired(nodeId: string): boolean {
    return this.mesh.get(nodeId) !== undefined;
  }

  /** A paired node updates its own record. */
  announce(sessionNodeId: string, req: AnnounceRequest, peerAddress: string | undefined): MeshNodeView {
    if (req.node_id !== sessionNodeId) {
      throw new DomainError('node_mismatch', 'A device may only announce itself: node_id does not match this session.');
    }
    const existing = this.mesh.get(sessionNodeId);
    if (!existing) throw new DomainError('session_revoked', 'This device is no longer paired. Pair it again.');
    const row = this.mesh.upsertPeer({
      id: req.node_id,
      name: req.name,
      kind: existing.kind,
      ...(req.hostname !== undefined ? { hostname: req.hostname } : {}),
      ...(req.port !== undefined ? { port: req.port } : {}),
      ...(req.capabilities ? { capabilities: req.capabilities } : {}),
      ...(req.metadata ? { metadata: req.metadata } : {}),
      addresses: [...(peerAddress ? [peerAddress] : []), ...(req.addresses ?? [])],
      seen: true,
    });
    this.feed.changed();
    return meshNodeView(row, this.opts.offlineAfterMs);
  }

  heartbeat(sessionNodeId: string, addresses: readonly string[], peerAddress: string | undefined): void {
    const known = this.mesh.touch(sessionNodeId, [...(peerAddress ? [peerAddress] : []), ...addresses]);
    if (!known) throw new DomainError('session_revoked', 'This device is no longer paired. Pair it again.');
    this.feed.changed();
  }

  /** Removes a device and cuts it off at once: its sessions are revoked in the same call. */
  unpair(nodeId: string): string[] {
    const row = this.mesh.get(nodeId);
    if (row && !row.isCurrent && row.kind === 'desktop' && !row.endedByPeerAt) this.opts.beforeDesktopUnpair?.(nodeId);
    if (!this.mesh.remove(nodeId)) throw new DomainError('not_found', `No paired device with id ${nodeId}.`);
    this.mesh.forgetReplacements(nodeId);
    const revoked = this.sessions.revokeAllFor(nodeId);
    this.links.remove(nodeId);
    this.rounds.delete(nodeId);
    this.log.info({ node_id: nodeId, sessions_revoked: revoked.length }, 'device unpaired');
    this.feed.changed();
    return revoked;
  }

  /**
   * Pairs this node with another desktop. With a fingerprint from a URL the pairing is complete at once;
   * by linking code (after mDNS discovery) it waits until the person confirms the short code.
   */
  async pairRemote(
    req: PairRemoteRequest,
    self: { privateKey: Uint8Array; publicKey: Uint8Array; payload: NodeIdentityPayload },
    ttlMs: number,
  ): Promise<PairRemoteResponse> {
    const target = targetFromRequest(req);
    const paired = await pairWithRemote(target, req.pin, self);
    if (paired.desktop.node_id === self.payload.node_id) throw new DomainError('invalid_request', 'That is this node itself.');
    if (paired.sas !== undefined) {
      const view: PendingPairingView = {
        pairing_id: paired.sessionId,
        direction: 'outgoing',
        node_id: paired.desktop.node_id,
        name: paired.desktop.name,
        fingerprint: paired.desktop.fingerprint,
        sas: paired.sas,
        expires_at: new Date(Date.now() + ttlMs).toISOString(),
      };
      this.outgoing.add({ view, expiresAt: Date.parse(view.expires_at), data: { paired, reachedAt: target.host } });
      this.feed.changed();
      return { ok: true, pending: view };
    }
    return { ok: true, node: this.completeOutgoing(paired, target.host) };
  }

  /**
   * Sends a pair request to another desktop (docs/protocol.md, "Pair requests") and answers at once with the
   * pending entry (the SAS B's prompt shows); then asks B in the background until its person accepted (B is
   * stored as paired, the entry goes away), declined, or the request expired (the entry says so until dismissed).
   */
  async requestPairing(
    req: PairRequestCreate,
    self: { privateKey: Uint8Array; publicKey: Uint8Array; payload: NodeIdentityPayload },
    ttlMs: number,
  ): Promise<PairRequestCreateResponse> {
    const target = targetFromPairRequest(req);
    const paired = await sendPairRequest(target, self);
    const d = paired.desktop;
    if (d.node_id === self.payload.node_id) throw new DomainError('invalid_request', 'That is this node itself.');
    // A repeated request to the same desktop replaces the older one here too (B does the same on its side).
    for (const old of this.outgoing.list()) if (old.node_id === d.node_id) this.outgoing.take(old.pairing_id);
    const expiresAt = Date.now() + ttlMs;
    const view: PendingPairingView = {
      pairing_id: paired.sessionId,
      direction: 'outgoing',
      node_id: d.node_id,
      name: d.name,
      fingerprint: d.fingerprint,
      fingerprint_pinned: target.fingerprint !== undefined,
      sas: paired.sas,
      expires_at: new Date(expiresAt).toISOString(),
      status: 'waiting',
    };
    // Kept a little past its expiry so the watcher can still mark it expired (list() drops expired entries).
    const item = { view, expiresAt: expiresAt + 5_000, data: { paired, reachedAt: target.host } };
    this.outgoing.add(item);
    this.feed.changed();
    void watchPairRequest({
      baseUrl: baseUrlOf(target),
      paired,
      expiresAt,
      signal: this.stopping.signal,
      stillWanted: () => this.outgoing.holds(item),
      intervalMs: this.pairRequestPollMs.first,
      maxIntervalMs: this.pairRequestPollMs.max,
    })
      .then((outcome) => this.settleRequest(item, outcome))
      .catch((err) => this.log.warn({ err: (err as Error).message }, 'pair request watch failed'));
    return { ok: true, pending: view };
  }

  private settleRequest(
    item: { view: PendingPairingView; expiresAt: number; data: { paired: PairingSuccess; reachedAt: string } },
    outcome: PairRequestOutcome,
  ): void {
    if (outcome === 'stopped' || this.stopping.signal.aborted || !this.outgoing.holds(item)) return;
    const name = item.view.name;
    if (outcome === 'accepted') {
      this.outgoing.take(item.view.pairing_id);
      this.completeOutgoing(item.data.paired, item.data.reachedAt);
      return;
    }
    // The outcome stays on screen a while (or until the person dismisses it), then the entry expires.
    item.view.status = outcome;
    item.view.message = outcome === 'declined' ? `${name} declined the pairing.` : `${name} did not answer in time.`;
    item.expiresAt = Date.now() + OUTCOME_SHOWN_MS;
    item.view.expires_at = new Date(item.expiresAt).toISOString();
    this.log.info({ node_id: item.view.node_id, outcome }, 'pair request ended');
    this.feed.changed();
  }

  confirmOutgoing(pairingId: string): MeshNodeView {
    // A pair request completes when the other desktop's person accepts, never by a click on this side.
    const item = this.outgoing.peek(pairingId)?.view.status === undefined ? this.outgoing.take(pairingId) : undefined;
    if (!item) throw new DomainError('pairing_not_pending', 'No pairing is waiting for confirmation under that id (it may have expired).');
    return this.completeOutgoing(item.data.paired, item.data.reachedAt);
  }

  rejectOutgoing(pairingId: string): boolean {
    const item = this.outgoing.take(pairingId);
    if (!item) return false;
    this.feed.changed();
    return true;
  }

  pendingOutgoing(): PendingPairingView[] {
    return this.outgoing.list();
  }

  private completeOutgoing(paired: PairingSuccess, reachedAt: string): MeshNodeView {
    const d = paired.desktop;
    // The other desktop's answer carries no device_info (no platform), so rules (a) and (b) apply here, not (c).
    this.replaceStale({ id: d.node_id, name: d.name, kind: 'desktop', publicKey: d.public_key, deviceInfo: {} });
    const row = this.mesh.upsertPeer({
      id: d.node_id,
      name: d.name,
      kind: 'desktop',
      hostname: reachedAt,
      port: d.port,
      capabilities: d.capabilities,
      publicKey: d.public_key,
      addresses: [reachedAt, ...d.addresses],
      paired: true,
      seen: true,
    });
    this.links.save({ nodeId: d.node_id, sessionId: paired.sessionId, deviceSecret: paired.deviceSecret });
    this.log.info({ node_id: d.node_id }, 'paired with remote desktop');
    this.feed.changed();
    return meshNodeView(row, this.opts.offlineAfterMs);
  }

  /**
   * Presence: peers silent for longer than `offlineAfterMs` are stored offline; peers silent for more than half
   * of it show degraded. Any change of what the UI shows is pushed.
   */
  sweepPresence(offlineAfterMs: number): void {
    const now = Date.now();
    let changed = this.mesh.markSilentOffline(new Date(now - offlineAfterMs).toISOString()) > 0;
    const presence = new Map(this.mesh.peers().map((r) => [r.id, presenceOf(r, offlineAfterMs, now)] as const));
    if (presence.size !== this.lastPresence.size || [...presence].some(([id, st]) => this.lastPresence.get(id) !== st)) changed = true;
    this.lastPresence = presence;
    if (changed) this.feed.changed();
  }

  /**
   * Heartbeats every desktop we hold a session on (signed, like any device request), trying its known addresses
   * newest first (the last one that worked is moved to the front), so the other side sees us online and learns
   * our addresses; its answer tells us its current addresses. Each round's attempts are kept for diagnostics.
   */
  /** Aborted by stop(): a shutting-down node must not wait on (or write after) a peer that does not answer. */
  private readonly stopping = new AbortController();

  /** Cancels heartbeats in flight and refuses new rounds; called before the database closes. */
  stop(): void {
    this.stopping.abort();
  }

  async heartbeatPeers(ownAddresses: string[]): Promise<void> {
    if (this.stopping.signal.aborted) return;
    await Promise.all(
      this.links.all().map(async (link) => {
        if (this.inFlight.has(link.nodeId)) return;
        this.inFlight.add(link.nodeId);
        try {
          await this.heartbeatPeer(link, ownAddresses);
        } finally {
          this.inFlight.delete(link.nodeId);
        }
      }),
    );
  }

  private async heartbeatPeer(
    link: { nodeId: string; sessionId: string; deviceSecret: Uint8Array },
    ownAddresses: string[],
  ): Promise<void> {
    const peer = this.mesh.get(link.nodeId);
    if (!peer?.port) return;
    // IPv6 link-local addresses need a zone id a URL cannot carry portably: not worth an attempt.
    const candidates = [...new Set([...peer.addresses, ...(peer.hostname ? [peer.hostname] : [])])].filter(
      (h) => !/^fe[89ab][0-9a-f]:/i.test(h),
    );
    const round: HeartbeatRound = { at: new Date().toISOString(), tried: [] };
    const finish = () => {
      if (this.mesh.get(peer.id)) this.rounds.set(peer.id, round);
    };
    for (const host of candidates) {
      if (this.stopping.signal.aborted) return;
      const client = new DeviceClient(
        `http://${hostForUrl(host)}:${peer.port}`,
        { sessionId: link.sessionId, deviceSecret: link.deviceSecret },
        {
          fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
            fetch(input, {
              ...init,
              signal: AbortSignal.any([AbortSignal.timeout(HEARTBEAT_ATTEMPT_TIMEOUT_MS), this.stopping.signal]),
            })) as typeof fetch,
          sha256: NODE_SHA256,
        },
      );
      try {
        const res = await client.request('POST', '/api/node/heartbeat', { addresses: ownAddresses });
        const body = (res.body ?? {}) as { error?: string; desktop_node?: { node_id?: unknown; addresses?: unknown } };
        if (res.status === 200) {
          round.tried.push({ address: host, ok: true });
          finish();
          if (!this.mesh.get(peer.id)) return;
          const announced =
            body.desktop_node?.node_id === peer.id && Array.isArray(body.desktop_node.addresses)
              ? body.desktop_node.addresses
                  .filter((a): a is string => typeof a === 'string' && a.length > 0 && a.length <= 300)
                  .slice(0, 32)
              : [];
          // The address that answered first, then what the peer says it has now (an IP change heals here).
          this.mesh.upsertPeer({
            id: peer.id,
            name: peer.name,
            kind: peer.kind,
            hostname: host,
            addresses: [host, ...announced],
            seen: true,
          });
          this.feed.changed();
          return;
        }
        round.tried.push({ address: host, ok: false, error: `HTTP ${res.status}${body.error ? ` ${body.error}` : ''}` });
        if (res.status === 401) {
          this.log.warn({ node_id: peer.id, error: body.error }, 'peer refuses our session (it unpaired us?)');
          break;
        }
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        const error = describeFetchError(err, HEARTBEAT_ATTEMPT_TIMEOUT_MS);
        round.tried.push({ address: host, ok: false, error });
        this.log.debug({ node_id: peer.id, host, err: error }, 'heartbeat failed on this address');
      }
    }
    finish();
  }
}
