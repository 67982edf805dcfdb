// Desktop pairings that wait for a person to confirm the short verification code. Kept in memory on
// purpose: a pending pairing that did not survive a restart is simply started again, and nothing
// half-trusted ever reaches the database.
import type { PendingPairingView } from '../../../shared/wire/schemas.js';

export interface PendingPairing<T> {
  view: PendingPairingView;
  expiresAt: number;
  /** What to do when the person confirms (store the peer, activate the session...). */
  data: T;
}

/** More waiting confirmations than any person can compare; past it the oldest is dropped. */
export const MAX_PENDING_CONFIRMATIONS = 32;

export class PendingConfirmations<T> {
  private items = new Map<string, PendingPairing<T>>();

  add(item: PendingPairing<T>, now = Date.now()): void {
    this.items.set(item.view.pairing_id, item);
    if (this.items.size <= MAX_PENDING_CONFIRMATIONS) return;
    for (const [id, i] of this.items) if (i.expiresAt <= now) this.items.delete(id);
    // Maps iterate in insertion order: the first ids are the oldest.
    for (const id of this.items.keys()) {
      if (this.items.size <= MAX_PENDING_CONFIRMATIONS) break;
      this.items.delete(id);
    }
  }

  /** The pairing if it exists and has not expired, left in place. */
  peek(id: string, now = Date.now()): PendingPairing<T> | undefined {
    const item = this.items.get(id);
    return item && item.expiresAt > now ? item : undefined;
  }

  /** Whether this very entry is still here (not replaced, taken or dropped), expired or not. */
  holds(item: PendingPairing<T>): boolean {
    return this.items.get(item.view.pairing_id) === item;
  }

  /** Removes and returns the pairing if it exists and has not expired. */
  take(id: string, now = Date.now()): PendingPairing<T> | undefined {
    const item = this.items.get(id);
    this.items.delete(id);
    return item && item.expiresAt > now ? item : undefined;
  }

  list(now = Date.now()): PendingPairingView[] {
    for (const [id, item] of this.items) if (item.expiresAt <= now) this.items.delete(id);
    return [...this.items.values()].map((i) => i.view);
  }
}
