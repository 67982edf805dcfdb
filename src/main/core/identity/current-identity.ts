// This node's identity while it runs: read by every service, changed only by a rename, which is saved first and
// then told to whoever subscribed (mDNS, the peer links, this node's own mesh row, the UI).
import { type NodeIdentity, renameIdentity } from './identity-store.js';

export class CurrentIdentity {
  private readonly listeners = new Set<(name: string) => void>();

  constructor(
    private readonly dataDir: string,
    private value: NodeIdentity,
  ) {}

  get(): NodeIdentity {
    return this.value;
  }

  rename(name: string): NodeIdentity {
    this.value = renameIdentity(this.dataDir, this.value, name);
    for (const fn of [...this.listeners]) fn(this.value.name);
    return this.value;
  }

  onRenamed(fn: (name: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
