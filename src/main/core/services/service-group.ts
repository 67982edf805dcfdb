// Starts services in the order given and stops the started ones in the reverse order. When a start fails,
// what already started is stopped (newest first) before the failure is passed on, so a half-started node
// never keeps a port, a timer or an open database.
import type { Service } from './service.js';

export type StopFailureLog = (service: string, err: Error) => void;

export class ServiceGroup {
  private readonly started: Service[] = [];
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly services: readonly Service[],
    private readonly onStopFailure: StopFailureLog = () => {},
  ) {}

  /** Starts every service once; a failed start stops the started ones and rejects with that failure. */
  start(): Promise<void> {
    this.starting ??= this.startAll();
    return this.starting;
  }

  /**
   * Stops every started service, newest first. A stop that fails is reported and the others still stop: the
   * last ones (the database) must close whatever happened before them. Waits for a start still under way.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.starting?.catch(() => {});
      await this.stopStarted();
    })();
    return this.stopping;
  }

  /** Names of the services that are running now, in start order (diagnostics, tests). */
  running(): string[] {
    return this.started.map((s) => s.name);
  }

  private async startAll(): Promise<void> {
    for (const service of this.services) {
      if (this.stopping) return;
      try {
        await service.start();
      } catch (err) {
        await this.stopStarted();
        throw err;
      }
      this.started.push(service);
    }
  }

  private async stopStarted(): Promise<void> {
    for (let s = this.started.pop(); s; s = this.started.pop()) {
      try {
        await s.stop();
      } catch (err) {
        this.onStopFailure(s.name, err as Error);
      }
    }
  }
}
