// The mesh as the rest of the node sees it: who is paired, who is online, and the operations on that list
// (announce, heartbeat, unpair, pair with another desktop). Every change is reported on the ChangeFeed.
import type { Logger } from 'pino';
import { DeviceClient } from '../../../shared/client/device-client.js';
import type { PairingSuccess } from '../../../shared/client/pairing-client.js';
import type { AnnounceRequest, MeshNodeView, NodeIdentityPayload, PairRemoteRequest, PairRemoteResponse, PendingPairingView } from '../../../shared/wire/schemas.js';
import type { MeshRepository } from '../db/mesh-repository.js';
import type { PeerLinkRepository } from '../db/peer-link-repository.js';
import type { SessionRepository } from '../db/session-repository.js';
import type { ChangeFeed } from '../events/change-feed.js';
import { ApiError } from '../http/api-error.js';
import { hostForUrl } from '../net/lan-addresses.js';
import { pairWithRemote, targetFromRequest } from '../pairing/remote-pairing.js';
import { NODE_SHA256 } from '../crypto/node-noise.js';
import { PendingConfirmations } from '../pairing/pending-confirmations.js';
import { meshNodeView } from './mesh-views.js';

export class MeshService {
  /** Outgoing desktop pairings waiting for this node's person to compare the short code. */
  private readonly outgoing = new PendingConfirmations<{ paired: PairingSuccess; reachedAt: string }>();

  constructor(
    private readonly mesh: MeshRepository,
    private readonly sessions: SessionRepository,
    private readonly links: PeerLinkRepository,
    private readonly feed: ChangeFeed,
    private readonly log: Logger,
  ) {}

  devices(): MeshNodeView[] {
    return this.mesh.peers().map(meshNodeView);
  }

  isPaired(nodeId: string): boolean {
    return this.mesh.get(nodeId) !== undefined;
  }

  /** A paired node updates its own record (seed 002's announceNode). */
  announce(sessionNodeId: string, req: AnnounceRequest, peerAddress: string | undefined): MeshNodeView {
    if (req.node_id !== sessionNodeId) {
      throw new ApiError(403, 'node_mismatch', 'A device may only announce itself: node_id does not match this session.');
    }
    const existing = this.mesh.get(sessionNodeId);
    if (!existing) throw new ApiError(401, 'session_revoked', 'This device is no longer paired. Pair it again.');
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
    return meshNodeView(row);
  }

  heartbeat(sessionNodeId: string, addresses: readonly string[], peerAddress: string | undefined): void {
    const known = this.mesh.touch(sessionNodeId, [...(peerAddress ? [peerAddress] : []), ...addresses]);
    if (!known) throw new ApiError(401, 'session_revoked', 'This device is no longer paired. Pair it again.');
    this.feed.changed();
  }

  /** Removes a device and cuts it off at once: its sessions are revoked in the same call. */
  unpair(nodeId: string): string[] {
    if (!this.mesh.remove(nodeId)) throw new ApiError(404, 'not_found', `No paired device with id ${nodeId}.`);
    const revoked = this.sessions.revokeAllFor(nodeId);
    this.links.remove(nodeId);
    this.log.info({ node_id: nodeId, sessions_revoked: revoked.length }, 'device unpaired');
    this.feed.changed();
    return revoked;
  }

  /**
   * Pairs this node with another desktop. With a fingerprint from a URL the pairing is complete at once;
   * by linking code (after mDNS discovery) it waits until the person confirms the short code.
   */
  async pairRemote(req: PairRemoteRequest, self: { privateKey: Uint8Array; publicKey: Uint8Array; payload: NodeIdentityPayload }, ttlMs: number): Promise<PairRemoteResponse> {
    const target = targetFromRequest(req);
    const paired = await pairWithRemote(target, req.pin, self);
    if (paired.desktop.node_id === self.payload.node_id) throw new ApiError(400, 'invalid_request', 'That is this node itself.');
    if (paired.sas !== undefined) {
      const view: PendingPairingView = {
        pairing_id: paired.sessionId, direction: 'outgoing', node_id: paired.desktop.node_id, name: paired.desktop.name,
        fingerprint: paired.desktop.fingerprint, sas: paired.sas, expires_at: new Date(Date.now() + ttlMs).toISOString(),
      };
      this.outgoing.add({ view, expiresAt: Date.parse(view.expires_at), data: { paired, reachedAt: target.host } });
      this.feed.changed();
      return { ok: true, pending: view };
    }
    return { ok: true, node: this.completeOutgoing(paired, target.host) };
  }

  confirmOutgoing(pairingId: string): MeshNodeView {
    const item = this.outgoing.take(pairingId);
    if (!item) throw new ApiError(404, 'pairing_not_pending', 'No pairing is waiting for confirmation under that id (it may have expired).');
    return this.completeOutgoing(item.data.paired, item.data.reachedAt);
  }

  rejectOutgoing(pairingId: string): boolean {
    const had = this.outgoing.take(pairingId) !== undefined;
    if (had) this.feed.changed();
    return had;
  }

  pendingOutgoing(): PendingPairingView[] {
    return this.outgoing.list();
  }

  private completeOutgoing(paired: PairingSuccess, reachedAt: string): MeshNodeView {
    const d = paired.desktop;
    const row = this.mesh.upsertPeer({
      id: d.node_id, name: d.name, kind: 'desktop', hostname: reachedAt, port: d.port,
      capabilities: d.capabilities, publicKey: d.public_key, addresses: [reachedAt, ...d.addresses], paired: true, seen: true,
    });
    this.links.save({ nodeId: d.node_id, sessionId: paired.sessionId, deviceSecret: paired.deviceSecret });
    this.log.info({ node_id: d.node_id }, 'paired with remote desktop');
    this.feed.changed();
    return meshNodeView(row);
  }

  /** Presence: peers silent for longer than `offlineAfterMs` show offline. */
  sweepPresence(offlineAfterMs: number): void {
    const changed = this.mesh.markSilentOffline(new Date(Date.now() - offlineAfterMs).toISOString());
    if (changed > 0) this.feed.changed();
  }

  /**
   * Heartbeats every desktop we hold a session on (signed, like any device request), trying its known
   * addresses in order (last good first), so the other side sees us online and learns our addresses.
   */
  async heartbeatPeers(ownAddresses: string[]): Promise<void> {
    await Promise.all(this.links.all().map(async (link) => {
      const peer = this.mesh.get(link.nodeId);
      if (!peer || !peer.port) return;
      const candidates = [...new Set([...(peer.hostname ? [peer.hostname] : []), ...peer.addresses])];
      for (const host of candidates) {
        const client = new DeviceClient(`http://${hostForUrl(host)}:${peer.port}`, { sessionId: link.sessionId, deviceSecret: link.deviceSecret }, {
          fetch: ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, signal: AbortSignal.timeout(5_000) })) as typeof fetch,
          sha256: NODE_SHA256,
        });
        try {
          const res = await client.request('POST', '/api/node/heartbeat', { addresses: ownAddresses });
          if (res.status === 200) {
            this.mesh.upsertPeer({ id: peer.id, name: peer.name, kind: peer.kind, hostname: host, addresses: [host], seen: true });
            this.feed.changed();
            return;
          }
          if (res.status === 401) {
            this.log.warn({ node_id: peer.id, error: (res.body as { error?: string }).error }, 'peer refuses our session (it unpaired us?)');
            return;
          }
        } catch (err) {
          this.log.debug({ node_id: peer.id, host, err: (err as Error).message }, 'heartbeat failed on this address');
        }
      }
    }));
  }
}
