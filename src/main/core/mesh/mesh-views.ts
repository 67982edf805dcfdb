// Database rows -> the wire views the UI and peers see.

import { fromBase64Url } from '../../../shared/encoding.js';
import { fingerprintOf } from '../../../shared/fingerprint.js';
import type { MeshNodeView, NodeStatus } from '../../../shared/wire/schemas.js';
import type { MeshNodeRow } from '../db/mesh-repository.js';

export function safeFingerprint(publicKey: string | null): string | null {
  if (!publicKey) return null;
  try {
    return fingerprintOf(fromBase64Url(publicKey));
  } catch {
    return null;
  }
}

/**
 * Presence from the stored status and the last time the peer was heard: online if heard within half of
 * `offlineAfterMs`, degraded up to `offlineAfterMs`, offline after that or once marked offline (silence swept,
 * mDNS goodbye) until heard again.
 */
export function presenceOf(
  row: Pick<MeshNodeRow, 'status' | 'lastSeen'>,
  offlineAfterMs: number | undefined,
  now = Date.now(),
): NodeStatus {
  if (row.status === 'offline') return 'offline';
  if (offlineAfterMs === undefined || !row.lastSeen) return row.status;
  const age = now - Date.parse(row.lastSeen);
  if (age > offlineAfterMs) return 'offline';
  if (age > offlineAfterMs / 2) return 'degraded';
  return 'online';
}

export function meshNodeView(row: MeshNodeRow, offlineAfterMs?: number, now = Date.now()): MeshNodeView {
  return {
    node_id: row.id,
    name: row.name,
    hostname: row.hostname,
    port: row.port,
    status: presenceOf(row, offlineAfterMs, now),
    kind: row.kind,
    capabilities: row.capabilities,
    metadata: row.metadata,
    last_seen: row.lastSeen,
    paired_at: row.pairedAt,
    created_at: row.createdAt,
    public_key: row.publicKey,
    fingerprint: safeFingerprint(row.publicKey),
    addresses: row.addresses,
    ended_by_peer_at: row.endedByPeerAt,
  };
}
