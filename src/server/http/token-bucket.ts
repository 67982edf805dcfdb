// A token bucket: `capacity` calls at once, then refilled at `perMs` tokens a millisecond. In memory on purpose:
// it caps load for one running process (the cloud's login steps, the node's pairing calls per address); limits
// that must outlive a restart live in the database instead.
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly capacity: number,
    private readonly perMs: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  /** Takes one token at `now`: 0 when allowed, else the ms until one is available. */
  take(now: number): number {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * this.perMs);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / this.perMs);
  }
}
