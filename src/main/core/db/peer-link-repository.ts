// peer_links: sessions this node holds on other desktops it paired with as the initiator, used for
// heartbeats and announces. The device secret is sealed at rest like every other secret.
import { eq } from 'drizzle-orm';
import type { SecretBox } from '../secrets/secret-box.js';
import type { Db } from './open-database.js';
import { peerLinks } from './schema.js';

export interface PeerLink {
  nodeId: string;
  sessionId: string;
  deviceSecret: Uint8Array;
}

export class PeerLinkRepository {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  save(link: PeerLink): void {
    const sealed = this.box.seal(link.deviceSecret);
    this.db
      .insert(peerLinks)
      .values({ nodeId: link.nodeId, sessionId: link.sessionId, deviceSecret: sealed, createdAt: new Date().toISOString() })
      .onConflictDoUpdate({ target: peerLinks.nodeId, set: { sessionId: link.sessionId, deviceSecret: sealed } })
      .run();
  }

  all(): PeerLink[] {
    // A secret the storage key no longer opens is no link: skipped, so one cannot stop the heartbeats of the rest.
    return this.db
      .select()
      .from(peerLinks)
      .all()
      .flatMap((r) => {
        try {
          return [{ nodeId: r.nodeId, sessionId: r.sessionId, deviceSecret: this.box.open(r.deviceSecret) }];
        } catch {
          return [];
        }
      });
  }

  remove(nodeId: string): void {
    this.db.delete(peerLinks).where(eq(peerLinks.nodeId, nodeId)).run();
  }
}
