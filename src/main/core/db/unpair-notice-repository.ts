// peer_unpair_notices: a desktop this node unpaired while the peer link was down. The pairing's shared key is
// kept (sealed) only so the other desktop can be told over an authenticated link; then the row goes.
import { eq, lt } from 'drizzle-orm';
import type { SecretBox } from '../secrets/secret-box.js';
import type { Db } from './open-database.js';
import { peerUnpairNotices } from './schema.js';

export interface UnpairNotice {
  nodeId: string;
  sessionId: string;
  /** The pairing's server_hmac_key. */
  sharedKey: Uint8Array;
  /** base64url of the peer's static key. */
  publicKey: string;
  port: number | null;
  addresses: string[];
  createdAt: string;
}

export class UnpairNoticeRepository {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  save(n: Omit<UnpairNotice, 'createdAt'>): void {
    const values = {
      nodeId: n.nodeId,
      sessionId: n.sessionId,
      secret: this.box.seal(n.sharedKey),
      publicKey: n.publicKey,
      port: n.port,
      addresses: n.addresses,
      createdAt: new Date().toISOString(),
    };
    this.db.insert(peerUnpairNotices).values(values).onConflictDoUpdate({ target: peerUnpairNotices.nodeId, set: values }).run();
  }

  all(): UnpairNotice[] {
    // A secret the storage key no longer opens cannot authenticate anything: such a row is useless and skipped.
    return this.db
      .select()
      .from(peerUnpairNotices)
      .all()
      .flatMap((r) => {
        try {
          return [
            {
              nodeId: r.nodeId,
              sessionId: r.sessionId,
              sharedKey: this.box.open(r.secret),
              publicKey: r.publicKey,
              port: r.port,
              addresses: r.addresses,
              createdAt: r.createdAt,
            },
          ];
        } catch {
          return [];
        }
      });
  }

  get(nodeId: string): UnpairNotice | undefined {
    return this.all().find((n) => n.nodeId === nodeId);
  }

  remove(nodeId: string): boolean {
    return this.db.delete(peerUnpairNotices).where(eq(peerUnpairNotices.nodeId, nodeId)).run().changes > 0;
  }

  /** Drops notices older than `cutoffIso` (given up: the other desktop never came back). */
  pruneOlderThan(cutoffIso: string): string[] {
    return this.db
      .delete(peerUnpairNotices)
      .where(lt(peerUnpairNotices.createdAt, cutoffIso))
      .returning({ nodeId: peerUnpairNotices.nodeId })
      .all()
      .map((r) => r.nodeId);
  }
}
