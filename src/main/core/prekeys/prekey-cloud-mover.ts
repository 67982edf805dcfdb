// Moves a share of every local device's one-time prekeys to the cloud, so devices of other homes can start a
// session with ours while this node is off (cloud-prekeys-port.ts). Keys are marked moving before they are sent
// and leave this store only once the cloud answered that it holds them. A definite refusal (a 4xx) puts them back
// here; a timeout or an unreachable cloud leaves them moving (the cloud may hold them), and the next pass sends
// the same ones again (takeForCloud returns what is still moving; the cloud takes a resend as a retry).
import type { Logger } from 'pino';
import { CloudCallError } from '../cloud/cloud-api.js';
import type { CloudPrekeysPort } from './cloud-prekeys-port.js';
import type { PrekeyStore } from './prekey-store.js';

/** How many one-time prekeys (of each kind) the cloud should hold for each of our devices. */
export const CLOUD_ONE_TIME_TARGET = 50;

export interface PrekeyCloudMoverDeps {
  store: PrekeyStore;
  port: () => CloudPrekeysPort;
  /** The devices this node serves (those that published nothing are skipped). */
  devices: () => string[];
  target?: number;
  log?: Pick<Logger, 'info' | 'warn'>;
}

export class PrekeyCloudMover {
  /** What the cloud said it holds per device at the last publish; absent: ask (a publish of no new keys). */
  private readonly cloudLeft = new Map<string, number>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly d: PrekeyCloudMoverDeps) {}

  /**
   * Asks for a pass (a device just published, or the cloud link came up). At most one pass runs at a time; a
   * request during a pass runs one more after it. `deviceId`: that device's count at the cloud is asked again.
   */
  kick(deviceId?: string): Promise<void> {
    if (deviceId === undefined) this.cloudLeft.clear();
    else this.cloudLeft.delete(deviceId);
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  stop(): void {
    this.stopped = true;
  }

  private async pass(): Promise<void> {
    for (const deviceId of this.d.devices()) {
      if (this.stopped || !this.d.port().available()) return;
      // false: the cloud is away; the rest waits for the next pass.
      if (!(await this.moveFor(deviceId))) return;
    }
  }

  private async moveFor(deviceId: string): Promise<boolean> {
    const target = this.d.target ?? CLOUD_ONE_TIME_TARGET;
    for (let round = 0; round < 2; round++) {
      const known = this.cloudLeft.get(deviceId);
      const want = known === undefined ? 0 : Math.max(0, target - known);
      const req = this.d.store.takeForCloud(deviceId, want);
      if (!req) return true;
      const sending = req.one_time_prekeys.length + req.kem_one_time_prekeys.length;
      // Nothing new to send and the cloud's count known: nothing to do.
      if (known !== undefined && sending === 0) return true;
      try {
        const status = await this.d.port().publish(deviceId, req);
        this.d.store.confirmMoved(deviceId, req);
        this.cloudLeft.set(deviceId, status.one_time_left);
        if (status.one_time_left >= target) return true;
      } catch (err) {
        if (err instanceof CloudCallError && err.kind === 'rejected' && err.status >= 400 && err.status < 500) {
          const back = this.d.store.revertMoving(deviceId);
          this.d.log?.warn({ device_id: deviceId, error: err.cloudError, reverted: back }, 'the cloud refused our prekeys; they stay here');
          return true;
        }
        this.d.log?.info({ device_id: deviceId, err: (err as Error).message }, 'prekeys not moved to the cloud yet; sent again later');
        return false;
      }
    }
    return true;
  }
}
