// The cloud-wide rate limit of the login steps: it caps their load (and the OTP sends they cause) on the whole
// cloud, every instance together: the bucket is a row of rate_buckets, taken from under its lock. The guess
// limits per device, address and account are in LoginLockout.
import { takeToken } from '../server/http/token-bucket.js';
import type { CloudSql } from './db/sql.js';

/** `ratePerSec` requests a second on average, `burst` at once. */
export interface RateLimit {
  ratePerSec: number;
  burst: number;
}

/** A token bucket shared by every instance of the cloud (one row per bucket name). */
export class SharedRateLimit {
  constructor(
    private readonly sql: CloudSql,
    private readonly name: string,
    private readonly limit: RateLimit,
    private readonly now: () => number,
  ) {}

  /** Takes one token: 0 when allowed, else the ms until one is available. */
  take(): Promise<number> {
    return this.sql.tx(async (tx) => {
      await tx.lock(`rate:${this.name}`);
      const now = this.now();
      const row = await tx.get<{ tokens: number; at: number }>('SELECT tokens, updated_ms AS at FROM rate_buckets WHERE name = ?', [
        this.name,
      ]);
      const r = takeToken(row ?? { tokens: this.limit.burst, at: now }, this.limit.burst, this.limit.ratePerSec / 1000, now);
      await tx.run(
        'INSERT INTO rate_buckets (name, tokens, updated_ms) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms',
        [this.name, r.state.tokens, r.state.at],
      );
      return r.waitMs;
    });
  }
}
