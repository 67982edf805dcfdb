// Failed login attempts counted across challenges, per device id and per source address, with a lockout that
// doubles on every repeat (backoff). A 6-digit code has 10^6 values: counting per challenge alone lets anyone
// ask for fresh challenges and keep guessing; counted here, an attacker gets `deviceMaxFailures` guesses per
// window for a device id however many challenges or source addresses they use. Stored in `login_failures` so a
// cloud restart does not reset it; rows go a day after their last failure, and the table has a hard cap.
import type { Statement } from 'better-sqlite3';
import { type CloudDb, sqliteOf } from './db/open.js';

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
  private readonly q: {
    get: Statement<[LockoutScope, string], Row>;
    put: Statement<[LockoutScope, string, number, string, string | null, number, string]>;
    clear: Statement<[LockoutScope, string]>;
    count: Statement<[], number>;
    prune: Statement<[string, string]>;
    evict: Statement<[string, number]>;
  };

  constructor(
    db: CloudDb,
    private readonly policy: LockoutPolicy,
    private readonly now: () => number,
  ) {
    const s = sqliteOf(db);
    this.q = {
      get: s.prepare(
        'SELECT failures, window_started_at AS windowStartedAt, locked_until AS lockedUntil, lockouts FROM login_failures WHERE scope = ? AND key = ?',
      ),
      put: s.prepare(
        'INSERT INTO login_failures (scope, key, failures, window_started_at, locked_until, lockouts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET failures = excluded.failures, window_started_at = excluded.window_started_at, locked_until = excluded.locked_until, lockouts = excluded.lockouts, updated_at = excluded.updated_at',
      ),
      clear: s.prepare('DELETE FROM login_failures WHERE scope = ? AND key = ?'),
      count: s.prepare<[], number>('SELECT count(*) FROM login_failures').pluck(),
      prune: s.prepare('DELETE FROM login_failures WHERE updated_at < ? AND (locked_until IS NULL OR locked_until < ?)'),
      evict: s.prepare(
        'DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures WHERE locked_until IS NULL OR locked_until < ? ORDER BY updated_at LIMIT ?)',
      ),
    };
  }

  /** Milliseconds until `key` may try again, or 0 when it is not locked. */
  lockedForMs(scope: LockoutScope, key: string): number {
    const row = this.q.get.get(scope, key);
    if (!row?.lockedUntil) return 0;
    return Math.max(0, Date.parse(row.lockedUntil) - this.now());
  }

  /** Counts one failure; returns the lock (ms) it started, or 0. */
  fail(scope: LockoutScope, key: string): number {
    const p = this.policy;
    const now = this.now();
    const iso = (t: number) => new Date(t).toISOString();
    const row = this.q.get.get(scope, key);
    if (!row) this.makeRoom();
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
    this.q.put.run(scope, key, failures, iso(windowStart), lockedUntil, lockouts, iso(now));
    return lockMs;
  }

  /** A successful login forgets the device's failures. */
  clear(scope: LockoutScope, key: string): void {
    this.q.clear.run(scope, key);
  }

  /** Forgets rows a day after their last failure (never a running lock). */
  prune(): number {
    const now = this.now();
    return this.q.prune.run(new Date(now - this.policy.forgetAfterMs).toISOString(), new Date(now).toISOString()).changes;
  }

  rows(): number {
    return this.q.count.get()!;
  }

  private makeRoom(): void {
    if (this.rows() < this.policy.maxRows) return;
    this.prune();
    const over = this.rows() - this.policy.maxRows + 1;
    if (over > 0) this.q.evict.run(new Date(this.now()).toISOString(), over);
  }
}
