// Which of this node's addresses it can actually be reached on, so only those are offered to other devices
// (QR candidates, /api/node/addresses, mDNS, the mesh row, the desktop UI's "reachable on" line). An address is
// offered when the listener accepts connections on it (a server on 0.0.0.0 does not take IPv6) and the node,
// connecting to its own port there, is answered by itself (a firewall or a dead interface shows up as not).
import { isIP } from 'node:net';
import { checkReachability } from './diagnostics.js';

/** Whether a server bound to `hosts` accepts connections on `address`. `::` is bound dual stack (IPv4-mapped). */
export function acceptsOn(hosts: readonly string[], address: string): boolean {
  if (hosts.includes('::')) return true;
  if (hosts.includes('0.0.0.0') && isIP(address) === 4) return true;
  return hosts.includes(address);
}

export class ReachableAddresses {
  private reachable = new Set<string>();
  private checkedKey: string | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly probe: (addresses: string[]) => Promise<{ address: string; ok: boolean }[]> = (addresses) =>
      Promise.resolve(addresses.map((address) => ({ address, ok: false }))),
  ) {}

  /** Checks `addresses` on `port` as `selfNodeId` answers; the default probe of a node. */
  static forNode(port: () => number, selfNodeId: () => string): ReachableAddresses {
    return new ReachableAddresses((addresses) => checkReachability(addresses, port(), selfNodeId()));
  }

  /** The given addresses that answered the last check, in the given order. */
  filter(addresses: readonly string[]): string[] {
    return addresses.filter((a) => this.reachable.has(a));
  }

  /**
   * Checks the addresses again when the set differs from the last one checked (or always when forced); resolves
   * once a check of the set current at that time finished. One check runs at a time.
   */
  async refresh(addresses: () => string[], force = false): Promise<void> {
    while (this.running) await this.running;
    const now = addresses();
    const key = JSON.stringify(now);
    if (!force && key === this.checkedKey) return;
    this.running = (async () => {
      try {
        const results = await this.probe(now);
        this.reachable = new Set(results.filter((r) => r.ok).map((r) => r.address));
        this.checkedKey = key;
      } catch {
        // A probe that failed as a whole says nothing about the addresses: keep what is known, try again next time.
      } finally {
        this.running = undefined;
      }
    })();
    await this.running;
  }
}
