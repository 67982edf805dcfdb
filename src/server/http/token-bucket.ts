// A token bucket: `capacity` calls at once, then refilled at `perMs` tokens a millisecond. takeToken is the rule
// itself, for a bucket kept anywhere (the cloud keeps its login bucket in its database, shared by its instances:
// src/cloud/rate-limit.ts); TokenBucket keeps one in memory, for load on one running process (the node's pairing
// calls per address). A clock that reads earlier than the bucket's last take (another machine's) refills nothing.

/** What a bucket holds: its tokens as of `at` (ms). */
export interface BucketState {
  tokens: number;
  at: number;
}

/** One take from a bucket in `state` at `now`: the state after, and 0 when allowed, else the ms until a token. */
export function takeToken(state: BucketState, capacity: number, perMs: number, now: number): { state: BucketState; waitMs: number } {
  const tokens = Math.min(capacity, state.tokens + Math.max(0, now - state.at) * perMs);
  if (tokens >= 1) return { state: { tokens: tokens - 1, at: now }, waitMs: 0 };
  return { state: { tokens, at: now }, waitMs: Math.ceil((1 - tokens) / perMs) };
}

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
    const r = takeToken({ tokens: this.tokens, at: this.at }, this.capacity, this.perMs, now);
    this.tokens = r.state.tokens;
    this.at = r.state.at;
    return r.waitMs;
  }
}
