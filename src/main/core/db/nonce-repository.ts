// used_nonces: the replay guard for signed requests. A nonce is claimed with one INSERT OR IGNORE, so two
// concurrent replays cannot both succeed; rows live in SQLite so a restart does not reopen the window.
import type Database from 'better-sqlite3';
import { lt, sql } from 'drizzle-orm';
import { GroupCommit } from '../messaging/group-commit.js';
import type { Db } from './open-database.js';
import { usedNonces } from './schema.js';

export class NonceRepository {
  /** Prepared once: this runs on every signed request. */
  private readonly insert;

  private readonly commit: GroupCommit;

  constructor(private readonly db: Db) {
    // drizzle() sets $client (the better-sqlite3 handle) on the object it returns; the Db type omits it.
    this.commit = GroupCommit.shared((db as unknown as { $client: Database.Database }).$client);
    this.insert = db
      .insert(usedNonces)
      .values({ sessionId: sql.placeholder('sessionId'), nonce: sql.placeholder('nonce'), expiresAt: sql.placeholder('expiresAt') })
      .onConflictDoNothing()
      .prepare();
  }

  /** True if this (session, nonce) was unused and is now recorded; false if it was seen before. */
  claim(sessionId: string, nonce: string, keepUntil: number): boolean {
    return this.insert.run({ sessionId, nonce, expiresAt: keepUntil }).changes === 1;
  }

  /**
   * claim() with group commit: the claims made in one turn of the event loop are written in one transaction,
   * and each promise settles only after that commit. The answer is as durable as claim()'s (a request is
   * served only once its nonce is on disk, so a replay is refused even right after a crash), but the cost of
   * a commit is shared by every request in flight instead of paid by each. The transaction is the database's
   * shared group commit (GroupCommit.shared), so the same commit also carries the outbox inserts, inbox
   * inserts and status changes of that turn. Claims run in order: of two claims of the same nonce in one
   * batch, only the first inserts.
   */
  claimBatched(sessionId: string, nonce: string, keepUntil: number): Promise<boolean> {
    const row = { sessionId, nonce, expiresAt: keepUntil };
    return this.commit.run({ single: true, work: () => this.insert.run(row).changes === 1 });
  }

  prune(now: number): number {
    return this.db.delete(usedNonces).where(lt(usedNonces.expiresAt, now)).run().changes;
  }

  count(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(usedNonces).get()!.n;
  }
}
