// A rate limit for log lines caused by the outside world (client mistakes, fd pressure): at most `perWindow`
// lines per kind per window, then one line saying how many were dropped. A flood of bad requests must not be
// able to fill the disk with logs or spend the CPU writing them.
export type EdgeLogLevel = 'debug' | 'info' | 'warn';
export type EdgeLog = (level: EdgeLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export class LogBudget {
  private windows = new Map<string, { start: number; used: number; dropped: number }>();

  constructor(
    private readonly log: EdgeLog,
    private readonly perWindow = 10,
    private readonly windowMs = 60_000,
  ) {}

  /** Logs unless this kind already used its lines in the current window. Never throws. */
  write(kind: string, level: EdgeLogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    try {
      const now = Date.now();
      let w = this.windows.get(kind);
      if (!w || now - w.start >= this.windowMs) {
        if (w && w.dropped > 0) this.log(level, `${w.dropped} more like this were not logged`, { kind, dropped: w.dropped });
        w = { start: now, used: 0, dropped: 0 };
        this.windows.set(kind, w);
        if (this.windows.size > 100) this.windows.delete(this.windows.keys().next().value!);
      }
      if (w.used >= this.perWindow) {
        w.dropped++;
        return;
      }
      w.used++;
      this.log(level, msg, { kind, ...fields });
    } catch {
      // Logging is best effort: a full disk or a closed stream must not turn a client mistake into a crash.
    }
  }
}
