// The mesh as the rest of the node sees it: who is paired, who is online, and the operations on that list
// (announce, heartbeat, unpair, pair with another desktop). Every change is reported on the ChangeFeed.
import type { Logger } from 'pino';
import type { AnnounceRequest, DesktopNode, MeshNodeView, NodeIdentityPayload, PairRemoteRequest } from '../../../shared/wire/schemas.js';
import type { MeshRepository } from '../db/mesh-repository.js';
import type { PeerLinkRepository } from '../db/peer-link-repository.js';
import type { SessionRepository } from '../db/session-repository.js';
import type { ChangeFeed } from '../events/change-feed.js';
import { ApiError } from '../http/api-error.js';
import { hostForUrl } from '../net/lan-addresses.js';
import { pairWithRemote, targetFromRequest } from '../pairing/remote-pairing.js';
import { meshNodeView } from './mesh-views.js';

export class MeshService {
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

  async pairRemote(req: PairRemoteRequest, self: NodeIdentityPayload): Promise<MeshNodeView> {
    const target = targetFromRequest(req);
    const { desktop, sessionToken } = await pairWithRemote(target, req.pin, self, this.log);
    if (desktop.node_id === self.node_id) throw new ApiError(400, 'invalid_request', 'That is this node itself.');
    const row = this.storeDesktop(desktop, target.host);
    this.links.save(desktop.node_id, sessionToken);
    this.feed.changed();
    return meshNodeView(row);
  }

  private storeDesktop(desktop: DesktopNode, reachedAt: string) {
    return this.mesh.upsertPeer({
      id: desktop.node_id, name: desktop.name, kind: 'desktop', hostname: reachedAt, port: desktop.port,
      capabilities: desktop.capabilities, publicKey: desktop.public_key,
      addresses: [reachedAt, ...desktop.addresses], paired: true, seen: true,
    });
  }

  /** Presence: peers silent for longer than `offlineAfterMs` show offline. */
  sweepPresence(offlineAfterMs: number): void {
    const changed = this.mesh.markSilentOffline(new Date(Date.now() - offlineAfterMs).toISOString());
    if (changed > 0) this.feed.changed();
  }

  /**
   * Heartbeats every desktop we hold a session on, trying its known addresses in order (last good first),
   * so the other side sees us online and learns our current addresses.
   */
  async heartbeatPeers(ownAddresses: string[]): Promise<void> {
    await Promise.all(this.links.all().map(async (link) => {
      const peer = this.mesh.get(link.nodeId);
      if (!peer || !peer.port) return;
      const candidates = [...new Set([...(peer.hostname ? [peer.hostname] : []), ...peer.addresses])];
      for (const host of candidates) {
        try {
          const res = await fetch(`http://${hostForUrl(host)}:${peer.port}/api/node/heartbeat`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Session ${link.sessionToken}` },
            body: JSON.stringify({ addresses: ownAddresses }),
            signal: AbortSignal.timeout(5_000),
          });
          await res.body?.cancel();
          if (res.ok) {
            this.mesh.upsertPeer({ id: peer.id, name: peer.name, kind: peer.kind, hostname: host, addresses: [host], seen: true });
            this.feed.changed();
            return;
          }
          if (res.status === 401) {
            this.log.warn({ node_id: peer.id }, 'peer no longer accepts our session (it unpaired us)');
            return;
          }
        } catch (err) {
          this.log.debug({ node_id: peer.id, host, err: (err as Error).message }, 'heartbeat failed on this address');
        }
      }
    }));
  }
}
