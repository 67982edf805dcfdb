// used_nonces: the replay guard for signed requests. A nonce is claimed with one INSERT OR IGNORE, so two
// concurrent replays cannot both succeed; rows live in SQLite so a restart does not reopen the window.
import { lt, sql } from 'drizzle-orm';
import type { Db } from './open-database.js';
import { usedNonces } from './schema.js';

export class NonceRepository {
  /** Prepared once: this runs on every signed request. */
  private readonly insert;

  constructor(private readonly db: Db) {
    this.insert = db.insert(usedNonces)
      .values({ sessionId: sql.placeholder('sessionId'), nonce: sql.placeholder('nonce'), expiresAt: sql.placeholder('expiresAt') })
      .onConflictDoNothing().prepare();
  }

  /** True if this (session, nonce) was unused and is now recorded; false if it was seen before. */
  claim(sessionId: string, nonce: string, keepUntil: number): boolean {
    return this.insert.run({ sessionId, nonce, expiresAt: keepUntil }).changes === 1;
  }

  prune(now: number): number {
    return this.db.delete(usedNonces).where(lt(usedNonces.expiresAt, now)).run().changes;
  }

  count(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(usedNonces).get()!.n;
  }
}
