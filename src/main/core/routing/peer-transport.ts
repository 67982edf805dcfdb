// The peer links to paired desktops as one of the router's transports. The peer-link service (attached late:
// it needs the router's port to exist first) says which links are up; until it is attached no desktop is.
// Waking it is the router port's onQueuedForPeer signal: the service then pulls pendingForPeer().
import { noPeerLinks, type PeerLinks, type Transport } from './ports.js';

export class PeerTransport implements Transport {
  readonly route = 'lan' as const;
  private links: PeerLinks;
  private unsubscribeLinks: () => void = () => {};
  private readonly changeListeners = new Set<(destination: string | undefined) => void>();
  private readonly queuedListeners = new Set<(nodeId: string) => void>();

  constructor(
    startedAt: number,
    private readonly onListenerError: (err: Error) => void,
  ) {
    this.links = noPeerLinks(startedAt);
  }

  /** Replaces the "no peers" default with the peer-link service's links. */
  attach(links: PeerLinks): void {
    this.unsubscribeLinks();
    this.links = links;
    this.unsubscribeLinks = links.onLinkChange((nodeId) => this.emitChange(nodeId));
    this.emitChange(undefined);
  }

  detach(): void {
    this.unsubscribeLinks();
    this.unsubscribeLinks = () => {};
  }

  isUp(nodeId: string): boolean {
    return this.links.isUp(nodeId);
  }

  downSince(nodeId: string): number | undefined {
    return this.links.isUp(nodeId) ? undefined : this.links.downSince(nodeId);
  }

  onChange(fn: (destination: string | undefined) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** PeerLinkRouterPort.onQueuedForPeer. */
  onQueued(fn: (nodeId: string) => void): () => void {
    this.queuedListeners.add(fn);
    return () => this.queuedListeners.delete(fn);
  }

  wake(nodeId: string): void {
    for (const fn of [...this.queuedListeners]) {
      try {
        fn(nodeId);
      } catch (err) {
        this.onListenerError(err as Error);
      }
    }
  }

  private emitChange(nodeId: string | undefined): void {
    for (const fn of [...this.changeListeners]) {
      try {
        fn(nodeId);
      } catch (err) {
        this.onListenerError(err as Error);
      }
    }
  }
}
