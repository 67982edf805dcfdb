// A tiny typed pub/sub: core services say "something the UI shows changed"; the admin WebSocket (and the
// Electron shell, if it wants) listens. Coalesced per tick so a burst of writes sends one state push.

import type { CloudLinkView, InboxPush, MessageStatusPush } from '../../../shared/wire/relay.js';
import type { PendingPairingView } from '../../../shared/wire/schemas.js';

export type ChangeEvent =
  | { type: 'changed' }
  | { type: 'pairing_completed'; code: string; node_id: string; name: string }
  | { type: 'pairing_confirmation'; pairing: PendingPairingView }
  | { type: 'cloud'; cloud: CloudLinkView }
  /** Pushes for the desktop UI's messaging device; the admin socket forwards them as they are. */
  | InboxPush
  | MessageStatusPush;

export class ChangeFeed {
  private listeners = new Set<(e: ChangeEvent) => void>();
  private pending = false;

  subscribe(fn: (e: ChangeEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(): void {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      this.emit({ type: 'changed' });
    });
  }

  emit(e: ChangeEvent): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(e);
      } catch {
        // One broken listener must not stop the others.
      }
    }
  }
}
