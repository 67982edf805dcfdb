// Open WebSockets of paired devices, by session and by device (node id). When a session is revoked (unpair,
// logout, re-pair) its sockets are closed at once with a code the client can act on, instead of lingering until
// they drop. The message store pushes frames to every open socket of one device (sendToDevice).
export const CLOSE_SESSION_REVOKED = 4401;
/**
 * Sent to the oldest socket of a session when a newer one took its place (at most `maxPerSession` are open).
 * The newest wins because a reconnecting device is the usual reason for one more socket: its old one may be
 * half-dead and not yet found by the pings. A flood of sockets on one session therefore only churns that
 * session's own sockets.
 */
export const CLOSE_TOO_MANY_SOCKETS = 4429;
export const DEFAULT_MAX_SOCKETS_PER_SESSION = 8;

/** Closes a socket that a newer one replaced (the rule above); one already closing is left as it is. */
export function closeReplaced(ws: Pick<DeviceSocket, 'close'>): void {
  try {
    ws.close(CLOSE_TOO_MANY_SOCKETS, 'too_many_sockets');
  } catch {
    // Already closing.
  }
}

export interface DeviceSocket {
  close(code?: number, reason?: string): void;
  send(data: string): void;
}

interface Entry {
  sessionId: string;
  nodeId: string;
  ws: DeviceSocket;
}

/** Sends one text frame to each socket; returns how many took it. */
function sendTo(entries: Iterable<Entry>, text: string): number {
  let sent = 0;
  for (const entry of entries) {
    try {
      entry.ws.send(text);
      sent++;
    } catch {
      // A socket that is going away; its close handler forgets it.
    }
  }
  return sent;
}

export class DeviceSockets {
  private bySession = new Map<string, Set<Entry>>();
  private byDevice = new Map<string, Set<Entry>>();

  constructor(private readonly maxPerSession = DEFAULT_MAX_SOCKETS_PER_SESSION) {}

  /**
   * Registers an open socket of `nodeId` under its session; returns the function that forgets it (on close).
   * When the session already has `maxPerSession` sockets, the oldest is closed with CLOSE_TOO_MANY_SOCKETS.
   */
  add(sessionId: string, nodeId: string, ws: DeviceSocket): () => void {
    const entry: Entry = { sessionId, nodeId, ws };
    const open = this.bySession.get(sessionId);
    // Sets iterate in insertion order: the first entries are the oldest sockets.
    for (const old of open ? [...open].slice(0, Math.max(0, open.size - this.maxPerSession + 1)) : []) {
      this.forget(old);
      closeReplaced(old.ws);
    }
    addTo(this.bySession, sessionId, entry);
    addTo(this.byDevice, nodeId, entry);
    return () => this.forget(entry);
  }

  private forget(entry: Entry): void {
    removeFrom(this.bySession, entry.sessionId, entry);
    removeFrom(this.byDevice, entry.nodeId, entry);
  }

  closeSessions(ids: readonly string[]): void {
    for (const id of ids) {
      for (const entry of [...(this.bySession.get(id) ?? [])]) {
        this.forget(entry);
        try {
          entry.ws.close(CLOSE_SESSION_REVOKED, 'session_revoked');
        } catch {
          // Already closing: nothing left to cut.
        }
      }
      this.bySession.delete(id);
    }
  }

  /** Sends one JSON frame to every open socket of a device; returns how many sockets took it. */
  sendToDevice(nodeId: string, frame: unknown): number {
    const set = this.byDevice.get(nodeId);
    if (!set || set.size === 0) return 0;
    return sendTo(set, JSON.stringify(frame));
  }

  /** Sends one JSON frame to every open socket of every device (what the node itself is, the directory). */
  sendToAll(frame: unknown): number {
    const text = JSON.stringify(frame);
    let sent = 0;
    for (const set of this.bySession.values()) sent += sendTo(set, text);
    return sent;
  }

  /** Open sockets of one device (0 if none). */
  countFor(nodeId: string): number {
    return this.byDevice.get(nodeId)?.size ?? 0;
  }

  /** Open sockets of one session (0 if none). */
  countForSession(sessionId: string): number {
    return this.bySession.get(sessionId)?.size ?? 0;
  }

  count(): number {
    let n = 0;
    for (const set of this.bySession.values()) n += set.size;
    return n;
  }
}

function addTo(map: Map<string, Set<Entry>>, key: string, entry: Entry): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(entry);
}

function removeFrom(map: Map<string, Set<Entry>>, key: string, entry: Entry): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(entry);
  if (set.size === 0) map.delete(key);
}
