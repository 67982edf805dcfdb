// How fast a transfer goes and how long it has left, from its progress over the last few seconds (not since it
// began: a transfer that waited for the node, or resumed from an offset, would otherwise look slow for ever).
// Pure (takes the time), so it is tested in Node.

/** The window the speed is measured over. */
export const RATE_WINDOW_MS = 5000;
/** Less than this much time measured says nothing yet. */
const MIN_SPAN_MS = 400;

export interface Rate {
  /** Bytes per second over the window; undefined until there is enough to say. */
  bytesPerSec: number | undefined;
  /** Seconds until `total` at that speed; undefined when the speed is unknown or zero. */
  secondsLeft: number | undefined;
}

export class RateMeter {
  private samples: { t: number; done: number }[] = [];

  /** Records progress `done` of `total` at time `t` (ms) and says the rate. */
  push(done: number, total: number, t: number): Rate {
    const last = this.samples.at(-1);
    // Progress that went back (a resume from the node's offset) starts a new measure.
    if (last && done < last.done) this.samples = [];
    this.samples.push({ t, done });
    while (this.samples.length > 2 && this.samples[1]!.t <= t - RATE_WINDOW_MS) this.samples.shift();
    return this.rate(total);
  }

  /** Nothing moved for a while (the connection is down): the speed is no longer known. */
  reset(): void {
    this.samples = [];
  }

  private rate(total: number): Rate {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.t - first.t < MIN_SPAN_MS) return { bytesPerSec: undefined, secondsLeft: undefined };
    const bytesPerSec = ((last.done - first.done) * 1000) / (last.t - first.t);
    const secondsLeft = bytesPerSec > 0 ? Math.max(0, total - last.done) / bytesPerSec : undefined;
    return { bytesPerSec, secondsLeft };
  }
}
