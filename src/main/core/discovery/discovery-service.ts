// mDNS as one of the node's services. The module is made at start (it needs the port) and told about renames
// and address changes while it runs. A rename that arrives while it still probes under the old name waits until
// the probe is over and is applied then: the module is never asked to rename mid-probe. mDNS that cannot start
// is logged and the node runs on without it (pairing by URL still works).
import type { Logger } from 'pino';
import type { Service } from '../services/service.js';
import type { Discovery } from './discovery.js';

export interface DiscoveryServiceDeps {
  /** Makes the module (the real mDNS one, or a test's fake). */
  create(): Promise<Discovery>;
  /** This node's name now (it may change while the module starts). */
  name(): string;
  /** The addresses to advertise now. */
  addresses(): string[];
  log: Logger;
  /** Something mDNS sees changed (the desktop UI's list of discovered nodes). */
  onChange(): void;
  /** mDNS heard addresses of a node. */
  onPeerAddresses(nodeId: string, addresses: string[]): void;
  /** A node withdrew its advertisement. */
  onGoodbye(nodeId: string): void;
  /** The module noticed an interface change. */
  onInterfaces(): void;
}

export class DiscoveryService implements Service {
  readonly name = 'mdns';
  /** Set from the moment the module exists (it may take addresses while it starts) until it stops or failed. */
  private module: Discovery | undefined;
  private running = false;
  private error: string | undefined;

  constructor(private readonly d: DiscoveryServiceDeps) {}

  async start(): Promise<void> {
    try {
      const module = await this.d.create();
      this.module = module;
      module.on('change', () => this.d.onChange());
      module.on('peer-addresses', (nodeId: string, addresses: string[]) => {
        if (typeof nodeId === 'string' && Array.isArray(addresses))
          this.d.onPeerAddresses(
            nodeId,
            addresses.filter((a) => typeof a === 'string'),
          );
      });
      module.on('goodbye', (nodeId: string) => {
        if (typeof nodeId === 'string') this.d.onGoodbye(nodeId);
      });
      module.on('interfaces', () => this.d.onInterfaces());
      await module.setAddresses?.(this.d.addresses());
      const probedName = this.d.name();
      await module.start();
      this.running = true;
      if (this.d.name() !== probedName) this.renamed(this.d.name());
    } catch (err) {
      this.error = (err as Error).message;
      this.d.log.error({ err: this.error }, 'mDNS discovery could not start; pairing by URL still works');
      this.module = undefined;
    }
  }

  async stop(): Promise<void> {
    const module = this.module;
    this.module = undefined;
    this.running = false;
    await module?.stop().catch((err: Error) => this.d.log.warn({ err: err.message }, 'mDNS stop failed'));
  }

  /** The node was renamed; while the module starts, the new name is taken up once its start is over. */
  renamed(name: string): void {
    if (!this.running || !this.module) return;
    void this.module.rename(name).catch((err: Error) => this.d.log.warn({ err: err.message }, 'mDNS rename failed'));
  }

  addressesChanged(addresses: string[]): void {
    try {
      void Promise.resolve(this.module?.setAddresses?.(addresses)).catch((err: Error) =>
        this.d.log.warn({ err: err.message }, 'mDNS could not take the new addresses'),
      );
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'mDNS could not take the new addresses');
    }
  }

  /** The module while it starts or runs; undefined before, after, or when it could not start. */
  current(): Discovery | undefined {
    return this.module;
  }

  /** Why the module could not start, if it could not. */
  lastError(): string | undefined {
    return this.error;
  }
}
