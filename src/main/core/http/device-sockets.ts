// Open WebSockets of paired devices, by session. When a session is revoked (unpair, logout, re-pair) its
// sockets are closed at once with a code the client can act on, instead of lingering until they drop.
export const CLOSE_SESSION_REVOKED = 4401;

interface Closable {
  close(code?: number, reason?: string): void;
}

export class DeviceSockets {
  private bySession = new Map<string, Set<Closable>>();

  add(sessionId: string, ws: Closable): () => void {
    let set = this.bySession.get(sessionId);
    if (!set) this.bySession.set(sessionId, (set = new Set()));
    set.add(ws);
    return () => {
      set!.delete(ws);
      if (set!.size === 0) this.bySession.delete(sessionId);
    };
  }

  closeSessions(ids: readonly string[]): void {
    for (const id of ids) {
      for (const ws of this.bySession.get(id) ?? []) ws.close(CLOSE_SESSION_REVOKED, 'session_revoked');
      this.bySession.delete(id);
    }
  }

  count(): number {
    let n = 0;
    for (const set of this.bySession.values()) n += set.size;
    return n;
  }
}
