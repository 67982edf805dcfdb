// The cloud-wide rate limit of the login steps: it caps their load (and the OTP sends they cause) on one running
// cloud; the guess limits that must outlive a restart are in LoginLockout.
import { TokenBucket } from '../server/http/token-bucket.js';

/** `ratePerSec` requests a second on average, `burst` at once. */
export interface RateLimit {
  ratePerSec: number;
  burst: number;
}

export function cloudWideBucket(limit: RateLimit, now: number): TokenBucket {
  return new TokenBucket(limit.burst, limit.ratePerSec / 1000, now);
}
