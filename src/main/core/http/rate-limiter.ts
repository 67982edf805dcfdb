// Per-source-address rate limits (pairing start and code lookups). A token bucket per address: `perMinute`
// calls may come in a burst, then one more each 60/perMinute seconds. The limiter's own memory is bounded:
// at most `maxKeys` addresses are tracked; past that the least recently seen address is forgotten (a full
// bucket is the same as a forgotten one, and an attacker who owns that many addresses gains only what the
// per-code PIN limit still stops).
import type { MiddlewareHandler } from 'hono';
import { TokenBucket } from '../../../server/http/token-bucket.js';
import { ApiError } from './api-error.js';
import { remoteAddress } from './request-auth.js';

export const DEFAULT_MAX_TRACKED_ADDRESSES = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = DEFAULT_MAX_TRACKED_ADDRESSES,
  ) {}

  /** Takes one call for `key`: 0 if allowed, else the seconds until the next call would be. */
  take(key: string, now = Date.now()): number {
    const bucket = this.buckets.get(key) ?? new TokenBucket(this.perMinute, this.perMinute / 60_000, now);
    // Re-inserted so the Map's order is least recently seen first (the eviction order).
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    const waitMs = bucket.take(now);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return waitMs > 0 ? Math.max(1, Math.ceil(waitMs / 1000)) : 0;
  }

  /** Addresses currently tracked (tests check the bound). */
  size(): number {
    return this.buckets.size;
  }
}

/** Hono middleware: 429 `{error: 'rate_limited', message, retry_after}` with Retry-After when over the limit. */
export function rateLimit(limiter: RateLimiter, what: string): MiddlewareHandler {
  return async (c, next) => {
    const wait = limiter.take(remoteAddress(c) ?? 'unknown');
    if (wait > 0) {
      c.header('retry-after', String(wait));
      throw new ApiError(429, 'rate_limited', `Too many ${what} from this address; try again in ${wait} s.`, { retry_after: wait });
    }
    await next();
  };
}
