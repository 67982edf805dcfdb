// Who is connected to the relay, and pushing each node its queue (docs/cloud.md "Relay"). One live socket per
// node: a newer one replaces the older (a node that reconnects after a network change must not wait for the
// old TCP connection to time out). Delivery is a cursor over the node's queue with at most RELAY_WINDOW rows
// sent and not acked; a new socket starts from the oldest unacked row, so nothing is lost with a dropped one.
import type { WSContext } from 'hono/ws';
import { type CloudToNodeFrame, RELAY_WINDOW } from '../shared/wire/relay.js';
import type { AuthService } from './auth-service.js';
import { CloudError } from './errors.js';
import type { Logger } from './log.js';
import type { RelayStore } from './relay-store.js';

/** Close codes of WS /v1/relay (the node reconnects after all but 4401, which needs a new login). */
export const RELAY_CLOSE = {
  /** A newer socket of the same node took over. */
  replaced: 4409,
  /** The token was revoked (logout, CLI `revoke`) or expired; the reason is the error code. */
  unauthorized: 4401,
  /** The cloud could not write; nothing unanswered was accepted, so the node resends its outbox. */
  internal: 1011,
  /** This instance is draining (SIGTERM): reconnect, through the load balancer, to another one. */
  draining: 1012,
} as const;

interface Corkable {
  cork(): void;
  uncork(): void;
}
const corkable = (s: unknown): Corkable | undefined =>
  s !== null && typeof s === 'object' && typeof (s as Corkable).cork === 'function' && typeof (s as Corkable).uncork === 'function'
    ? (s as Corkable)
    : undefined;

/** How often live sockets re-check their token (the CLI revokes from another process). */
export const TOKEN_RECHECK_MS = 30_000;

export class RelayLink {
  /** Highest seq sent on this socket. */
  private cursor = 0;
  private readonly inFlight = new Set<number>();
  closed = false;

  /** The TCP socket under the WebSocket, when ws exposes it (held corked while one burst of frames is written). */
  private readonly socket: Corkable | undefined;
  private corked = false;

  constructor(
    readonly node: string,
    readonly token: string,
    private readonly ws: WSContext,
    private readonly store: RelayStore,
    private readonly log: Logger,
  ) {
    this.socket = corkable((ws.raw as { _socket?: unknown } | undefined)?._socket);
  }

  /**
   * Frames sent in one go (a pump's rows, the answers of one group commit) leave in one write: the first send
   * corks the socket, and it is uncorked on the next tick, i.e. once the current burst of callbacks and
   * microtasks is done. Order is unchanged; only the number of syscalls (one writev per frame otherwise) drops.
   */
  send(frame: string): void {
    if (this.closed) return;
    if (this.socket && !this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket!.uncork();
      });
    }
    try {
      this.ws.send(frame);
    } catch (err) {
      this.log.warn({ err, node: this.node }, `relay: send to ${this.node} failed`);
    }
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.ws.close(code, reason);
    } catch {
      /* already gone */
    }
  }

  /** Sends queue rows after the cursor until the window is full or the queue is drained. */
  pump(): void {
    try {
      while (!this.closed && this.inFlight.size < RELAY_WINDOW) {
        const want = RELAY_WINDOW - this.inFlight.size;
        const rows = this.store.framesAfter(this.node, this.cursor, want);
        for (const r of rows) {
          this.inFlight.add(r.seq);
          this.cursor = r.seq;
          this.send(r.frame);
        }
        if (rows.length < want) return;
      }
    } catch (err) {
      // Runs from timers too, where a throw would end the process; the next socket starts over from the oldest.
      this.log.error({ err, node: this.node }, `relay: reading the queue of ${this.node} failed`);
      this.close(RELAY_CLOSE.internal, 'internal_error');
    }
  }

  /**
   * The node acked `seq`. Only a full window can have held rows back (pump() otherwise drained the queue), so
   * only then is there something to send now. The row itself is deleted by the writer; the cursor is past it.
   */
  acked(seq: number): void {
    const wasFull = this.inFlight.size >= RELAY_WINDOW;
    this.inFlight.delete(seq);
    if (wasFull) this.pump();
  }
}

export class RelayHub {
  private readonly links = new Map<string, RelayLink>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: RelayStore,
    private readonly auth: AuthService,
    private readonly log: Logger,
    tokenRecheckMs = TOKEN_RECHECK_MS,
  ) {
    // A timer must not take the process down (a locked or failing database): log it; the next tick retries.
    this.timer = setInterval(() => {
      try {
        this.recheckTokens();
      } catch (err) {
        this.log.error({ err }, 'relay: token recheck failed');
      }
    }, tokenRecheckMs);
    this.timer.unref();
  }

  /** A node's socket opened: it replaces any older one, gets its hello, then its queue. */
  attach(node: string, token: string, ws: WSContext): RelayLink {
    this.links.get(node)?.close(RELAY_CLOSE.replaced, 'replaced');
    const link = new RelayLink(node, token, ws, this.store, this.log);
    this.links.set(node, link);
    let pending: number;
    try {
      pending = this.store.pending(node);
    } catch (err) {
      this.fail(link, err);
      return link;
    }
    link.send(JSON.stringify({ type: 'hello', device_id: node, pending }));
    link.pump();
    return link;
  }

  detach(link: RelayLink): void {
    link.closed = true;
    if (this.links.get(link.node) === link) this.links.delete(link.node);
  }

  /**
   * A frame outside the node's queue (no seq, no ack): a hint such as blob_ready, sent if the node is connected
   * and lost otherwise (the node asks for the same facts after its next hello). Returns whether it was sent.
   */
  notify(node: string, frame: CloudToNodeFrame): boolean {
    const link = this.links.get(node);
    if (!link || link.closed) return false;
    link.send(JSON.stringify(frame));
    return true;
  }

  isConnected(node: string): boolean {
    return this.links.has(node);
  }

  /**
   * New rows were committed for these nodes. Pushed on the next turn, so a sender's `accepted` (answered
   * right after the commit) goes out before a delivery of the same envelope back to itself.
   */
  pumpSoon(nodes: Iterable<string>): void {
    const list = [...nodes];
    setImmediate(() => {
      for (const n of list) this.links.get(n)?.pump();
    });
  }

  /** Closes the socket authenticated by `token` (POST /api/auth/logout). */
  closeToken(token: string, reason: string): void {
    for (const link of this.links.values()) if (link.token === token) link.close(RELAY_CLOSE.unauthorized, reason);
  }

  /** Closes `node`'s socket, if it has one (the node was removed from its account, or signed out). */
  closeNode(node: string, reason: string): boolean {
    const link = this.links.get(node);
    if (!link) return false;
    link.close(RELAY_CLOSE.unauthorized, reason);
    return true;
  }

  /** Closes the sockets whose token is no longer good (revoked elsewhere, expired, flag turned on). */
  recheckTokens(): number {
    let closed = 0;
    for (const link of this.links.values()) {
      const r = this.auth.checkToken(link.token);
      if (r instanceof CloudError) {
        link.close(RELAY_CLOSE.unauthorized, r.code);
        closed++;
      }
    }
    return closed;
  }

  /** The store failed under a socket: close it; the node reconnects and resends what was not accepted. */
  fail(link: RelayLink, err: unknown): void {
    this.log.error({ err, node: link.node }, `relay: storage error for ${link.node}`);
    link.close(RELAY_CLOSE.internal, 'internal_error');
  }

  /** Every node's socket is closed with 1012 (draining): they reconnect elsewhere. Returns how many. */
  closeAll(): number {
    const links = [...this.links.values()];
    for (const link of links) link.close(RELAY_CLOSE.draining, 'draining');
    return links.length;
  }

  stop(): void {
    clearInterval(this.timer);
    for (const link of this.links.values()) link.closed = true;
    this.links.clear();
  }
}
