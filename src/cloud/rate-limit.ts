// A token bucket: `ratePerSec` requests a second on average, `burst` at once. In memory on purpose: it caps
// the load on the login endpoints (and the OTP sends they cause) of one running cloud; the guess limits that
// must outlive a restart are in LoginLockout.
export interface RateLimit { ratePerSec: number; burst: number }

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly limit: RateLimit, private readonly now: () => number) {
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes one token: 0 when allowed, else the ms until one is available. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((t - this.last) / 1000) * this.limit.ratePerSec);
    this.last = t;
    if (this.tokens >= 1) { this.tokens -= 1; return 0; }
    return Math.ceil(((1 - this.tokens) / this.limit.ratePerSec) * 1000);
  }
}
