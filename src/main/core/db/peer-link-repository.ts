// peer_links: sessions this node holds on other desktops it paired with as the initiator, used for
// heartbeats and announces. (The secure-channel work replaces the bearer token with derived keys.)
import { eq } from 'drizzle-orm';
import type { Db } from './open-database.js';
import { peerLinks } from './schema.js';

export class PeerLinkRepository {
  constructor(private readonly db: Db) {}

  save(nodeId: string, sessionToken: string): void {
    this.db.insert(peerLinks).values({ nodeId, sessionToken, createdAt: new Date().toISOString() })
      .onConflictDoUpdate({ target: peerLinks.nodeId, set: { sessionToken } }).run();
  }

  all(): { nodeId: string; sessionToken: string }[] {
    return this.db.select({ nodeId: peerLinks.nodeId, sessionToken: peerLinks.sessionToken }).from(peerLinks).all();
  }

  remove(nodeId: string): void {
    this.db.delete(peerLinks).where(eq(peerLinks.nodeId, nodeId)).run();
  }
}
