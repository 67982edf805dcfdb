// Tells subscribers (mDNS, this node's mesh row, the UI) when the set of addresses this node advertises changed:
// interfaces come and go (Wi-Fi roams, a VPN starts), and the person may choose other interfaces.
export class AdvertisedAddresses {
  private readonly listeners = new Set<(addresses: string[]) => void>();
  private last = '';

  constructor(private readonly now: () => string[]) {}

  /** Takes the current set as known: those starting now read it themselves. */
  settle(): void {
    this.last = JSON.stringify(this.now());
  }

  /** Tells the subscribers when the set changed since the last look, or always when forced (settings changed). */
  check(force = false): void {
    const now = this.now();
    const key = JSON.stringify(now);
    if (!force && key === this.last) return;
    this.last = key;
    for (const fn of [...this.listeners]) fn(now);
  }

  onChange(fn: (addresses: string[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
