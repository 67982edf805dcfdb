// used_nonces: the replay guard for signed requests. A nonce is claimed with one INSERT OR IGNORE, so two
// concurrent replays cannot both succeed; rows live in SQLite so a restart does not reopen the window.
import { lt, sql } from 'drizzle-orm';
import type { Db } from './open-database.js';
import { usedNonces } from './schema.js';

export class NonceRepository {
  constructor(private readonly db: Db) {}

  /** True if this (session, nonce) was unused and is now recorded; false if it was seen before. */
  claim(sessionId: string, nonce: string, keepUntil: number): boolean {
    return this.db.insert(usedNonces).values({ sessionId, nonce, expiresAt: keepUntil })
      .onConflictDoNothing().run().changes === 1;
  }

  prune(now: number): number {
    return this.db.delete(usedNonces).where(lt(usedNonces.expiresAt, now)).run().changes;
  }

  count(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(usedNonces).get()!.n;
  }
}
