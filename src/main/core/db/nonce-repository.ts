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

  private queue: { row: { sessionId: string; nonce: string; expiresAt: number }; done: (fresh: boolean) => void; fail: (err: unknown) => void }[] = [];

  /**
   * claim() with group commit: the claims made in one turn of the event loop are written in one transaction,
   * and each promise settles only after that commit. The answer is as durable as claim()'s (a request is
   * served only once its nonce is on disk, so a replay is refused even right after a crash), but the cost of
   * a commit is shared by every request in flight instead of paid by each.
   */
  claimBatched(sessionId: string, nonce: string, keepUntil: number): Promise<boolean> {
    return new Promise((done, fail) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ row: { sessionId, nonce, expiresAt: keepUntil }, done, fail });
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    let results: boolean[];
    try {
      // INSERT OR IGNORE in order: of two claims of the same nonce in one batch, only the first inserts.
      results = this.db.transaction(() => batch.map((b) => this.insert.run(b.row).changes === 1));
    } catch (err) {
      for (const b of batch) b.fail(err);
      return;
    }
    batch.forEach((b, i) => b.done(results[i]!));
  }

  prune(now: number): number {
    return this.db.delete(usedNonces).where(lt(usedNonces.expiresAt, now)).run().changes;
  }

  count(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(usedNonces).get()!.n;
  }
}
