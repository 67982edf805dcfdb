// Failed login attempts counted across challenges, per device id and per source address, with a lockout that
// doubles on every repeat (backoff). A 6-digit code has 10^6 values: counting per challenge alone lets anyone
// ask for fresh challenges and keep guessing; counted here, an attacker gets `deviceMaxFailures` guesses per
// window for a device id however many challenges or source addresses they use. Stored in `login_failures` so a
// cloud restart does not reset it; rows go a day after their last failure, and the table has a hard cap.
import type { CloudSql, SqlQuery } from './db/sql.js';

export type LockoutScope = 'device' | 'address' | 'email';

export interface LockoutPolicy {
  /** Failed codes per device id (and per account email) per window before it is locked. */
  deviceMaxFailures: number;
  /** Failed verifies (any reason) per source address per window before it is locked. */
  addressMaxFailures: number;
  /** The counting window, and the length of the first lockout. */
  windowMs: number;
  /** Lockouts double up to this. */
  maxLockoutMs: number;
  /** A row is forgotten this long after its last failure (once it is not locked). */
  forgetAfterMs: number;
  /** Hard cap on rows (a flood of made-up device ids); past it the oldest unlocked rows go first. */
  maxRows: number;
}

export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = {
  deviceMaxFailures: 5,
  addressMaxFailures: 20,
  windowMs: 15 * 60_000,
  maxLockoutMs: 24 * 60 * 60_000,
  forgetAfterMs: 24 * 60 * 60_000,
  maxRows: 100_000,
};

type Row = { failures: number; windowStartedAt: string; lockedUntil: string | null; lockouts: number };

export class LoginLockout {
  constructor(
    private readonly sql: CloudSql,
    private readonly policy: LockoutPolicy,
    private readonly now: () => number,
  ) {}

  private row(scope: LockoutScope, key: string, q: SqlQuery = this.sql): Promise<Row | undefined> {
    return q.get<Row>(
      'SELECT failures, window_started_at AS "windowStartedAt", locked_until AS "lockedUntil", lockouts FROM login_failures WHERE scope = ? AND key = ?',
      [scope, key],
    );
  }

  /** Milliseconds until `key` may try again, or 0 when it is not locked. */
  async lockedForMs(scope: LockoutScope, key: string): Promise<number> {
    const row = await this.row(scope, key);
    if (!row?.lockedUntil) return 0;
    return Math.max(0, Date.parse(row.lockedUntil) - this.now());
  }

  /**
   * Counts one failure; returns the lock (ms) it started, or 0. The read and the write are one transaction under
   * the key's lock: instances behind one load balancer count every guess, none is lost between them.
   */
  async fail(scope: LockoutScope, key: string): Promise<number> {
    const p = this.policy;
    const now = this.now();
    const iso = (t: number) => new Date(t).toISOString();
    return this.sql.tx(async (tx) => {
      await tx.lock(`login_failures:${scope}:${key}`);
      const row = await this.row(scope, key, tx);
      if (!row) await this.makeRoom(tx);
      let failures = row?.failures ?? 0;
      let windowStart = row ? Date.parse(row.windowStartedAt) : now;
      let lockouts = row?.lockouts ?? 0;
      // A lockout that ended more than a window ago without a new one: the backoff starts over.
      if (row?.lockedUntil && Date.parse(row.lockedUntil) + p.windowMs < now && now - windowStart > p.windowMs) lockouts = 0;
      if (now - windowStart > p.windowMs) {
        failures = 0;
        windowStart = now;
      }
      failures += 1;
      let lockedUntil = row?.lockedUntil && Date.parse(row.lockedUntil) > now ? row.lockedUntil : null;
      let lockMs = 0;
      if (failures >= (scope === 'address' ? p.addressMaxFailures : p.deviceMaxFailures)) {
        lockouts += 1;
        lockMs = Math.min(p.maxLockoutMs, p.windowMs * 2 ** Math.min(lockouts - 1, 30));
        lockedUntil = iso(now + lockMs);
        // The next window starts when the lock ends: a locked key cannot bank guesses for afterwards.
        failures = 0;
        windowStart = now + lockMs;
      }
      await tx.run(
        'INSERT INTO login_failures (scope, key, failures, window_started_at, locked_until, lockouts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (scope, key) DO UPDATE SET failures = excluded.failures, window_started_at = excluded.window_started_at, ' +
          'locked_until = excluded.locked_until, lockouts = excluded.lockouts, updated_at = excluded.updated_at',
        [scope, key, failures, iso(windowStart), lockedUntil, lockouts, iso(now)],
      );
      return lockMs;
    });
  }

  /** A successful login forgets the device's failures. */
  async clear(scope: LockoutScope, key: string): Promise<void> {
    await this.sql.run('DELETE FROM login_failures WHERE scope = ? AND key = ?', [scope, key]);
  }

  /** Forgets rows a day after their last failure (never a running lock). */
  async prune(q: SqlQuery = this.sql): Promise<number> {
    const now = this.now();
    return (
      await q.run('DELETE FROM login_failures WHERE updated_at < ? AND (locked_until IS NULL OR locked_until < ?)', [
        new Date(now - this.policy.forgetAfterMs).toISOString(),
        new Date(now).toISOString(),
      ])
    ).changes;
  }

  async rows(q: SqlQuery = this.sql): Promise<number> {
    return (await q.get<{ n: number }>('SELECT count(*) AS n FROM login_failures'))!.n;
  }

  private async makeRoom(tx: SqlQuery): Promise<void> {
    if ((await this.rows(tx)) < this.policy.maxRows) return;
    await this.prune(tx);
    const over = (await this.rows(tx)) - this.policy.maxRows + 1;
    if (over > 0)
      await tx.run(
        'DELETE FROM login_failures WHERE (scope, key) IN (SELECT scope, key FROM login_failures WHERE locked_until IS NULL OR locked_until < ? ORDER BY updated_at LIMIT ?)',
        [new Date(this.now()).toISOString(), over],
      );
  }
}
