// What this device remembers of the identity keys of the devices (and homes) it writes to: the key it first saw
// (trust on first use), whether the person verified it by comparing safety numbers, and whether it changed since.
// A device re-paired or reinstalled gets a new identity key: the book notices the directory's new key, keeps the
// old one, and says "safety number changed" until the person acknowledges it. After a verified key changed,
// nothing is sent to that device until they do (docs/e2ee.md "Safety numbers"). No DOM: kept in localStorage.

export interface PeerTrust {
  /** base64url of the identity key now trusted for it (the directory's key when first seen or last accepted). */
  key: string;
  verified: boolean;
  /** Set when the directory shows another key than `key`: the new one, and whether the old one was verified. */
  changed?: { to: string; wasVerified: boolean; at: string };
}

export type TrustEntries = Readonly<Record<string, PeerTrust>>;

/** A verified key changed: sending waits until the person accepts the new one. */
export function sendingBlocked(t: PeerTrust | undefined): boolean {
  return t?.changed?.wasVerified === true;
}

function isTrust(x: unknown): x is PeerTrust {
  const t = x as PeerTrust;
  return typeof x === 'object' && x !== null && typeof t.key === 'string' && typeof t.verified === 'boolean';
}

export class TrustBook {
  private entries: Record<string, PeerTrust> = {};

  /** @param storageKey where to keep it (localStorage), or undefined to keep it in memory only. */
  constructor(
    private readonly storageKey?: string,
    private readonly storage: Storage | undefined = globalThis.localStorage,
  ) {
    if (!storageKey || !storage) return;
    try {
      const saved = JSON.parse(storage.getItem(storageKey) ?? '{}') as Record<string, unknown>;
      for (const [id, t] of Object.entries(saved)) if (isTrust(t)) this.entries[id] = t;
    } catch {
      // unreadable: start over (every key is then first seen again, none verified) rather than fail the page
    }
  }

  all(): TrustEntries {
    return this.entries;
  }

  of(id: string): PeerTrust | undefined {
    return this.entries[id];
  }

  /**
   * The keys the directory (or a session) shows now, by device or home id. Returns whether anything changed. A
   * key seen for the first time is trusted as is; a different key than the trusted one is a change. A device
   * seen for the first time that `replaces` ids this book knows (it was paired again under a new id) is not a
   * stranger: it starts with what was trusted for the latest of them, and a change if its key is another.
   */
  observe(keys: Iterable<readonly [id: string, key: string, replaces?: readonly string[]]>, now = new Date()): boolean {
    let changed = false;
    for (const [id, key, replaces] of keys) {
      const t = this.entries[id];
      const before = t ? undefined : replaces?.map((old) => this.entries[old]).find((x) => x !== undefined);
      if (before) {
        const wasVerified = before.verified || (before.changed?.wasVerified ?? false);
        this.entries[id] =
          before.key === key
            ? { key, verified: before.verified }
            : { key: before.key, verified: before.verified, changed: { to: key, wasVerified, at: now.toISOString() } };
        changed = true;
      } else if (!t) {
        this.entries[id] = { key, verified: false };
        changed = true;
      } else if (t.key === key) {
        // Back to the trusted key (a change reverted): nothing to acknowledge any more.
        if (t.changed) {
          const { changed: _gone, ...rest } = t;
          this.entries[id] = rest;
          changed = true;
        }
      } else if (t.changed?.to !== key) {
        this.entries[id] = {
          ...t,
          changed: { to: key, wasVerified: t.verified || (t.changed?.wasVerified ?? false), at: now.toISOString() },
        };
        changed = true;
      }
    }
    if (changed) this.save();
    return changed;
  }

  /** The person acknowledged the new key: it is trusted from now on, not verified. */
  accept(id: string): void {
    const t = this.entries[id];
    if (!t?.changed) return;
    this.entries[id] = { key: t.changed.to, verified: false };
    this.save();
  }

  /** The person compared the safety number for `key` and it matched. Refused for a key that is not the current one. */
  setVerified(id: string, key: string, verified: boolean): boolean {
    const t = this.entries[id];
    const current = t?.changed?.to ?? t?.key;
    if (!t || current !== key) return false;
    this.entries[id] = { key, verified };
    this.save();
    return true;
  }

  private save(): void {
    if (!this.storageKey || !this.storage) return;
    try {
      this.storage.setItem(this.storageKey, JSON.stringify(this.entries));
    } catch {
      // storage full: kept for this page's life; the conversations' own save says so
    }
  }
}
