// Who is connected to the relay, and pushing each node its queue (docs/cloud.md "Relay"). One live socket per
// node: a newer one replaces the older (a node that reconnects after a network change must not wait for the
// old TCP connection to time out), on this instance or another. Delivery is a cursor over the node's queue with
// at most RELAY_WINDOW rows sent and not acked; a new socket starts from the oldest unacked row, so nothing is
// lost with a dropped one.
//
// Several instances (docs/cloud-scale.md): the database is the truth and the bus only says "look". A commit
// for nodes this instance does not hold goes out as `relay.deliver` (the instance holding one pumps it from the
// database); a new socket takes the node's next generation in relay_presence and says so as `relay.replace`
// (an instance holding an older socket closes it with 4409). A lost bus message only delays: every link is
// pumped and its generation checked again on a timer.
import type { WSContext } from 'hono/ws';
import { type CloudToNodeFrame, RELAY_WINDOW } from '../shared/wire/relay.js';
import type { AuthService } from './auth-service.js';
import type { CloudBus } from './bus.js';
import { type CloudSql, marks } from './db/sql.js';
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

/** Bus subjects of the relay: `{"nodes":[…]}` with new rows, and `{"node":…,"generation":n}` for a new socket. */
export const RELAY_DELIVER_SUBJECT = 'relay.deliver';
export const RELAY_REPLACE_SUBJECT = 'relay.replace';

/** How often, with a shared bus, every link looks at its queue and its generation even without a message. */
export const RELAY_SWEEP_MS = 2_000;

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
  /** This socket's generation in relay_presence, once claimed. */
  generation: number | undefined;
  /** The highest generation another instance announced before ours was known. */
  replacedBy = 0;

  /** The TCP socket under the WebSocket, when ws exposes it (held corked while one burst of frames is written). */
  private readonly socket: Corkable | undefined;
  private corked = false;
  /** Frames wait here until the hello went out (it must be the first frame). */
  private early: string[] | null = [];
  private pumping = false;
  private pumpAgain = false;

  constructor(
    readonly node: string,
    readonly token: string,
    private readonly ws: WSContext,
    private readonly store: RelayStore,
    private readonly log: Logger,
  ) {
    this.socket = corkable((ws.raw as { _socket?: unknown } | undefined)?._socket);
  }

  /** The hello is out: what waited goes now, in order. */
  started(hello: string): void {
    const early = this.early ?? [];
    this.early = null;
    this.send(hello);
    for (const f of early) this.send(f);
  }

  /**
   * Frames sent in one go (a pump's rows, the answers of one group commit) leave in one write: the first send
   * corks the socket, and it is uncorked on the next tick, i.e. once the current burst of callbacks and
   * microtasks is done. Order is unchanged; only the number of syscalls (one writev per frame otherwise) drops.
   */
  send(frame: string): void {
    if (this.closed) return;
    if (this.early) {
      this.early.push(frame);
      return;
    }
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

  /**
   * Sends queue rows after the cursor until the window is full or the queue is drained. One read at a time: a
   * pump asked for while one runs makes it look once more when it is done.
   */
  pump(): void {
    if (this.closed || this.early) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.drain().finally(() => {
      this.pumping = false;
    });
  }

  private async drain(): Promise<void> {
    try {
      do {
        this.pumpAgain = false;
        while (!this.closed && this.inFlight.size < RELAY_WINDOW) {
          const want = RELAY_WINDOW - this.inFlight.size;
          const rows = await this.store.framesAfter(this.node, this.cursor, want);
          for (const r of rows) {
            if (r.seq <= this.cursor) continue;
            this.inFlight.add(r.seq);
            this.cursor = r.seq;
            this.send(r.frame);
          }
          if (rows.length < want) break;
        }
      } while (this.pumpAgain && !this.closed);
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

export interface RelayHubOptions {
  sql: CloudSql;
  bus: CloudBus;
  /** This instance's name in relay_presence. */
  instance: string;
  tokenRecheckMs: number;
  /** With a shared bus: how often every link is pumped and its generation checked (default RELAY_SWEEP_MS). */
  sweepMs?: number;
}

export class RelayHub {
  private readonly links = new Map<string, RelayLink>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  /** Only a bus shared with other instances is worth a message; alone, every node's socket is here. */
  private readonly shared: boolean;

  constructor(
    private readonly store: RelayStore,
    private readonly auth: AuthService,
    private readonly log: Logger,
    private readonly o: RelayHubOptions,
  ) {
    this.shared = o.bus.kind !== 'none';
    // A timer must not take the process down (a locked or failing database): log it; the next tick retries.
    this.every(o.tokenRecheckMs, () => this.recheckTokens(), 'relay: token recheck failed');
    if (this.shared) {
      this.every(o.sweepMs ?? RELAY_SWEEP_MS, () => this.sweep(), 'relay: sweep failed');
      this.unsubscribe.push(
        o.bus.subscribe(RELAY_DELIVER_SUBJECT, (data) => {
          const nodes = (JSON.parse(data) as { nodes?: unknown }).nodes;
          if (Array.isArray(nodes)) for (const n of nodes) if (typeof n === 'string') this.links.get(n)?.pump();
        }),
        o.bus.subscribe(RELAY_REPLACE_SUBJECT, (data) => {
          const m = JSON.parse(data) as { node?: unknown; generation?: unknown };
          if (typeof m.node === 'string' && typeof m.generation === 'number') this.replacedElsewhere(m.node, m.generation);
        }),
      );
    }
  }

  private every(ms: number, fn: () => Promise<unknown>, what: string): void {
    const t = setInterval(() => {
      fn().catch((err: unknown) => this.log.error({ err }, what));
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /** A node's socket opened: it replaces any older one (here or elsewhere), gets its hello, then its queue. */
  attach(node: string, token: string, ws: WSContext): RelayLink {
    this.links.get(node)?.close(RELAY_CLOSE.replaced, 'replaced');
    const link = new RelayLink(node, token, ws, this.store, this.log);
    this.links.set(node, link);
    this.start(link).catch((err: unknown) => this.fail(link, err));
    return link;
  }

  private async start(link: RelayLink): Promise<void> {
    const { node } = link;
    const row = await this.o.sql.get<{ generation: number }>(
      'INSERT INTO relay_presence (node, instance, generation, connected_at) VALUES (?, ?, 1, ?) ON CONFLICT (node) DO UPDATE SET ' +
        'instance = excluded.instance, generation = relay_presence.generation + 1, connected_at = excluded.connected_at RETURNING generation',
      [node, this.o.instance, new Date().toISOString()],
    );
    link.generation = row!.generation;
    if (this.shared) this.o.bus.publish(RELAY_REPLACE_SUBJECT, JSON.stringify({ node, generation: link.generation }));
    if (link.replacedBy > link.generation) {
      link.close(RELAY_CLOSE.replaced, 'replaced');
      return;
    }
    const pending = await this.store.pending(node);
    link.started(JSON.stringify({ type: 'hello', device_id: node, pending }));
    link.pump();
  }

  /** Another instance took `node`'s next generation: an older socket here goes. */
  private replacedElsewhere(node: string, generation: number): void {
    const link = this.links.get(node);
    if (!link) return;
    if (link.generation === undefined) link.replacedBy = Math.max(link.replacedBy, generation);
    else if (link.generation < generation) link.close(RELAY_CLOSE.replaced, 'replaced');
  }

  detach(link: RelayLink): void {
    link.closed = true;
    if (this.links.get(link.node) !== link) return;
    this.links.delete(link.node);
    if (link.generation !== undefined)
      this.o.sql
        .run('DELETE FROM relay_presence WHERE node = ? AND generation = ?', [link.node, link.generation])
        .catch((err: unknown) => this.log.warn({ err, node: link.node }, 'relay: forgetting a socket failed'));
  }

  /**
   * A frame outside the node's queue (no seq, no ack): a hint such as blob_ready, sent if the node is connected
   * here and lost otherwise (the node asks for the same facts after its next hello). Returns whether it was sent.
   */
  notify(node: string, frame: CloudToNodeFrame): boolean {
    const link = this.links.get(node);
    if (!link || link.closed) return false;
    link.send(JSON.stringify(frame));
    return true;
  }

  /** Whether `node` has a relay socket, on this instance or another. */
  async isConnected(node: string): Promise<boolean> {
    if (this.links.has(node)) return true;
    if (!this.shared) return false;
    return (await this.o.sql.get<{ n: number }>('SELECT 1 AS n FROM relay_presence WHERE node = ?', [node])) !== undefined;
  }

  /**
   * New rows were committed for these nodes. Pushed on the next turn, so a sender's `accepted` (answered
   * right after the commit) goes out before a delivery of the same envelope back to itself. Nodes held by no
   * socket here are announced on the bus, for the instance that holds them.
   */
  pumpSoon(nodes: Iterable<string>): void {
    const list = [...nodes];
    setImmediate(() => {
      const elsewhere: string[] = [];
      for (const n of list) {
        const link = this.links.get(n);
        if (link) link.pump();
        else elsewhere.push(n);
      }
      if (this.shared && elsewhere.length > 0) this.o.bus.publish(RELAY_DELIVER_SUBJECT, JSON.stringify({ nodes: elsewhere }));
    });
  }

  /** Closes the socket authenticated by `token` (POST /api/auth/logout). */
  closeToken(token: string, reason: string): void {
    for (const link of this.links.values()) if (link.token === token) link.close(RELAY_CLOSE.unauthorized, reason);
  }

  /** Closes `node`'s socket, if it has one here (the node was removed from its account, or signed out). */
  closeNode(node: string, reason: string): boolean {
    const link = this.links.get(node);
    if (!link) return false;
    link.close(RELAY_CLOSE.unauthorized, reason);
    return true;
  }

  /** Closes the sockets whose token is no longer good (revoked elsewhere, expired, flag turned on). */
  async recheckTokens(): Promise<number> {
    let closed = 0;
    for (const link of [...this.links.values()]) {
      const r = await this.auth.checkToken(link.token);
      if (r instanceof CloudError) {
        link.close(RELAY_CLOSE.unauthorized, r.code);
        closed++;
      }
    }
    return closed;
  }

  /**
   * With a shared bus, what a lost message would have said: each link's queue is looked at, and a link whose
   * node took a newer generation elsewhere is closed.
   */
  private async sweep(): Promise<void> {
    const links = [...this.links.values()].filter((l) => l.generation !== undefined && !l.closed);
    if (links.length === 0) return;
    const rows = await this.o.sql.all<{ node: string; generation: number }>(
      `SELECT node, generation FROM relay_presence WHERE node IN (${marks(links.length)})`,
      links.map((l) => l.node),
    );
    const now = new Map(rows.map((r) => [r.node, r.generation]));
    for (const link of links) {
      const g = now.get(link.node);
      if (g !== undefined && g > link.generation!) link.close(RELAY_CLOSE.replaced, 'replaced');
      else link.pump();
    }
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
    for (const t of this.timers) clearInterval(t);
    for (const u of this.unsubscribe) u();
    for (const link of this.links.values()) link.closed = true;
    this.links.clear();
  }
}
