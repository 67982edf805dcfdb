// Things the person should know about until they dismiss them (e.g. "Phone was paired again and replaced its
// old record"). Kept in memory only: newest first, at most 20; every change is reported on the ChangeFeed.
import { randomBytes } from 'node:crypto';
import type { NoticeView } from '../../../shared/wire/schemas.js';
import type { ChangeFeed } from './change-feed.js';

export const MAX_NOTICES = 20;

/** A notice as added: every kind without the id and time the board gives it. */
export type NoticeInput = NoticeView extends infer N ? (N extends NoticeView ? Omit<N, 'id' | 'at'> : never) : never;

export class NoticeBoard {
  private items: NoticeView[] = [];

  constructor(private readonly feed: ChangeFeed) {}

  add(notice: NoticeInput): NoticeView {
    const full = { id: randomBytes(8).toString('hex'), at: new Date().toISOString(), ...notice } as NoticeView;
    this.items = [full, ...this.items].slice(0, MAX_NOTICES);
    this.feed.changed();
    return full;
  }

  list(): NoticeView[] {
    return [...this.items];
  }

  /** Idempotent: dismissing an unknown (or already dismissed) notice is not an error. */
  dismiss(id: string): boolean {
    const before = this.items.length;
    this.items = this.items.filter((n) => n.id !== id);
    const removed = this.items.length !== before;
    if (removed) this.feed.changed();
    return removed;
  }
}
