// Which pairing secrets the peer link may use with a desktop, from either side of the pairing: the initiator
// holds peer_links (session id + device secret -> server_hmac_key), the responder holds the active
// device_sessions row of that node (session id + sealed server_hmac_key). Only live pairings qualify: a mesh row
// of kind desktop with a pinned static key, not ended by the peer.
import { and, desc, eq, isNull } from 'drizzle-orm';
import { deriveServerHmacKey } from '../../../shared/auth/request-signing.js';
import { fromBase64Url } from '../../../shared/encoding.js';
import type { MeshRepository } from '../db/mesh-repository.js';
import type { Db } from '../db/open-database.js';
import type { PeerLinkRepository } from '../db/peer-link-repository.js';
import { deviceSessions } from '../db/schema.js';
import type { SessionRepository } from '../db/session-repository.js';

export interface PairingCredentials {
  nodeId: string;
  sessionId: string;
  serverHmacKey: Uint8Array;
  peerPublicKey: Uint8Array;
  /** Which table the secret came from (diagnostics). */
  source: 'peer_links' | 'device_sessions';
}

export class PairingCredentialsLookup {
  constructor(
    private readonly db: Db,
    private readonly mesh: MeshRepository,
    private readonly sessions: SessionRepository,
    private readonly links: PeerLinkRepository,
  ) {}

  /** The credentials to dial `nodeId` with, if it is a live paired desktop. */
  forNode(nodeId: string): PairingCredentials | undefined {
    const key = this.peerKey(nodeId);
    if (!key) return undefined;
    const link = this.links.all().find((l) => l.nodeId === nodeId);
    if (link)
      return {
        nodeId,
        sessionId: link.sessionId,
        serverHmacKey: deriveServerHmacKey(link.deviceSecret),
        peerPublicKey: key,
        source: 'peer_links',
      };
    const rows = this.db
      .select({ id: deviceSessions.id })
      .from(deviceSessions)
      .where(and(eq(deviceSessions.nodeId, nodeId), isNull(deviceSessions.revokedAt), eq(deviceSessions.state, 'active')))
      .orderBy(desc(deviceSessions.createdAt))
      .all();
    for (const { id } of rows) {
      const found = this.sessions.lookup(id);
      if (found.ok) return { nodeId, sessionId: id, serverHmacKey: found.hmacKey, peerPublicKey: key, source: 'device_sessions' };
    }
    return undefined;
  }

  /** The credentials of the pairing named `sessionId` (a dialer names it in clear), if it is live. */
  forSession(sessionId: string): PairingCredentials | undefined {
    const link = this.links.all().find((l) => l.sessionId === sessionId);
    if (link) {
      const key = this.peerKey(link.nodeId);
      return (
        key && {
          nodeId: link.nodeId,
          sessionId,
          serverHmacKey: deriveServerHmacKey(link.deviceSecret),
          peerPublicKey: key,
          source: 'peer_links',
        }
      );
    }
    const found = this.sessions.lookup(sessionId);
    if (!found.ok) return undefined;
    const key = this.peerKey(found.session.nodeId);
    return key && { nodeId: found.session.nodeId, sessionId, serverHmacKey: found.hmacKey, peerPublicKey: key, source: 'device_sessions' };
  }

  /** Paired desktops (live, with a pinned key). */
  pairedDesktops(): string[] {
    return this.mesh
      .peers()
      .filter((r) => r.kind === 'desktop' && !r.endedByPeerAt && r.publicKey)
      .map((r) => r.id);
  }

  private peerKey(nodeId: string): Uint8Array | undefined {
    const row = this.mesh.get(nodeId);
    if (!row || row.isCurrent || row.kind !== 'desktop' || row.endedByPeerAt || !row.publicKey) return undefined;
    try {
      const key = fromBase64Url(row.publicKey);
      return key.length === 32 ? key : undefined;
    } catch {
      return undefined;
    }
  }
}
