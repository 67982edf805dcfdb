// pairing_codes: the QR/PIN codes this node has shown. Attempt counting is done in one UPDATE so two
// concurrent wrong guesses can't both see "4 failures so far" and slip past the limit.
import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Db } from './open-database.js';
import { pairingCodes } from './schema.js';

export type PairingCodeRow = typeof pairingCodes.$inferSelect;

export class PairingCodeRepository {
  constructor(private readonly db: Db) {}

  insert(row: { code: string; linkingCode: string; pin: string; expiresAt: number }): PairingCodeRow {
    return this.db
      .insert(pairingCodes)
      .values({ ...row, createdAt: new Date().toISOString() })
      .returning()
      .get();
  }

  byCode(code: string): PairingCodeRow | undefined {
    return this.db.select().from(pairingCodes).where(eq(pairingCodes.code, code)).get();
  }

  byLinkingCode(linkingCode: string): PairingCodeRow | undefined {
    return this.db.select().from(pairingCodes).where(eq(pairingCodes.linkingCode, linkingCode)).get();
  }

  /**
   * Counts a wrong PIN; locks the code when the limit is reached. Returns the updated row, or undefined if the
   * code is gone. Only an active code changes status: a late wrong guess must not turn `used` into `locked`.
   */
  recordFailure(code: string, maxAttempts: number): PairingCodeRow | undefined {
    return this.db
      .update(pairingCodes)
      .set({
        failedAttempts: sql`${pairingCodes.failedAttempts} + 1`,
        status: sql`CASE WHEN ${pairingCodes.status} = 'active' AND ${pairingCodes.failedAttempts} + 1 >= ${maxAttempts} THEN 'locked' ELSE ${pairingCodes.status} END`,
      })
      .where(eq(pairingCodes.code, code))
      .returning()
      .get();
  }

  /** Marks an active code used; false if someone else consumed it first (single use under concurrency). */
  consume(code: string, usedBy: string): boolean {
    return (
      this.db
        .update(pairingCodes)
        .set({ status: 'used', usedBy, usedAt: new Date().toISOString() })
        .where(and(eq(pairingCodes.code, code), eq(pairingCodes.status, 'active')))
        .run().changes === 1
    );
  }

  /**
   * Forget codes that expired more than `graceMs` ago, and past `maxRows` the oldest rows, so the table does not
   * grow forever (rowid is the insertion order).
   */
  prune(now: number, graceMs: number, maxRows = Number.MAX_SAFE_INTEGER): number {
    return this.db
      .delete(pairingCodes)
      .where(
        or(
          lt(pairingCodes.expiresAt, now - graceMs),
          sql`rowid IN (SELECT rowid FROM pairing_codes ORDER BY rowid DESC LIMIT -1 OFFSET ${maxRows})`,
        ),
      )
      .run().changes;
  }

  /**
   * Leaves at most `keep` codes usable (active and unexpired): older ones expire now, so a flood of new codes
   * cannot keep thousands of live codes to guess at. Run before inserting a new one with keep = limit - 1.
   */
  expireOldLive(now: number, keep: number): number {
    return this.db.run(sql`UPDATE pairing_codes SET expires_at = ${now}
      WHERE status = 'active' AND expires_at > ${now} AND rowid NOT IN
        (SELECT rowid FROM pairing_codes WHERE status = 'active' AND expires_at > ${now} ORDER BY rowid DESC LIMIT ${Math.max(0, keep)})`)
      .changes;
  }

  count(): number {
    return this.db.get<{ n: number }>(sql`SELECT count(*) AS n FROM pairing_codes`).n;
  }

  /** Codes that could still be used now. */
  liveCount(now = Date.now()): number {
    return this.db.get<{ n: number }>(sql`SELECT count(*) AS n FROM pairing_codes WHERE status = 'active' AND expires_at > ${now}`).n;
  }
}
