// The cloud as one of the router's transports: up while the cloud link is connected, and it knows the devices
// its key directory listed at the last fetch. The link itself (cloud/) drains the 'cloud' outbox rows through
// MessageStorePort; waking it is the store's onQueued signal.
import type { CloudLinkStatus } from '../../../shared/wire/relay.js';
import { CLOUD, type CloudTransportPort } from './ports.js';

export interface CloudTransportDeps {
  /** CloudLink.status() / configured(). */
  status(): CloudLinkStatus;
  configured(): boolean;
  /** The store's copy of the cloud's directory. */
  knows(deviceId: string): boolean;
  /** The cloud link's view changed (status, directory); returns an unsubscribe function. */
  subscribe(fn: () => void): () => void;
  /** Tells the cloud link that rows for it were committed (MessageStore.notifyCloudQueued). */
  wake(): void;
  now?: () => number;
}

export class CloudTransport implements CloudTransportPort {
  readonly route = 'cloud' as const;
  private readonly now: () => number;
  private downAt: number | undefined;
  private wasUp = false;

  constructor(private readonly d: CloudTransportDeps) {
    this.now = d.now ?? Date.now;
    this.downAt = this.now();
  }

  isUp(_destination: string = CLOUD): boolean {
    const up = this.d.status() === 'connected';
    this.track(up);
    return up;
  }

  downSince(_destination: string = CLOUD): number | undefined {
    return this.isUp() ? undefined : this.downAt;
  }

  status(): CloudLinkStatus {
    return this.d.status();
  }

  configured(): boolean {
    return this.d.configured();
  }

  knows(deviceId: string): boolean {
    return this.d.knows(deviceId);
  }

  onChange(fn: (destination: string | undefined) => void): () => void {
    return this.d.subscribe(() => {
      this.isUp();
      fn(CLOUD);
    });
  }

  wake(_destination: string = CLOUD): void {
    this.d.wake();
  }

  private track(up: boolean): void {
    if (up) this.downAt = undefined;
    else if (this.wasUp || this.downAt === undefined) this.downAt = this.now();
    this.wasUp = up;
  }
}
