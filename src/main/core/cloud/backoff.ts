// Reconnect delays: exponential with full jitter (a random delay between 0 and min(cap, base * 2^attempt)), so
// many nodes that lost the same cloud do not come back in lockstep. The attempt count resets once connected.
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** [0, 1); tests may pin it. */
  random?: () => number;
  /** Share of the ceiling always waited (0 = full jitter): retries of our own calls should never come at once. */
  jitterFloor?: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000 };

/** The longest delay before attempt `attempt` (0-based): base * 2^attempt, at most cap. */
export function backoffCeiling(opts: Pick<BackoffOptions, 'baseMs' | 'capMs'>, attempt: number): number {
  return Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = backoffCeiling(this.opts, this.attempt);
    this.attempt++;
    const floor = ceiling * (this.opts.jitterFloor ?? 0);
    return Math.floor(floor + (this.opts.random ?? Math.random)() * (ceiling - floor));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
