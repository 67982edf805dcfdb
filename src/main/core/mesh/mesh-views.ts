// Database rows -> the wire views the UI and peers see.
import { fingerprintOf } from '../../../shared/fingerprint.js';
import { fromBase64Url } from '../../../shared/encoding.js';
import type { MeshNodeView } from '../../../shared/wire/schemas.js';
import type { MeshNodeRow } from '../db/mesh-repository.js';

export function safeFingerprint(publicKey: string | null): string | null {
  if (!publicKey) return null;
  try {
    return fingerprintOf(fromBase64Url(publicKey));
  } catch {
    return null;
  }
}

export function meshNodeView(row: MeshNodeRow): MeshNodeView {
  return {
    node_id: row.id,
    name: row.name,
    hostname: row.hostname,
    port: row.port,
    status: row.status,
    kind: row.kind,
    capabilities: row.capabilities,
    metadata: row.metadata,
    last_seen: row.lastSeen,
    paired_at: row.pairedAt,
    created_at: row.createdAt,
    public_key: row.publicKey,
    fingerprint: safeFingerprint(row.publicKey),
    addresses: row.addresses,
  };
}
