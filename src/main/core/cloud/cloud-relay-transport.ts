// The cloud transport: the node's relay connection to its cloud (WS /v1/relay, relay-connection.ts) and what
// rides on it. It connects with the session's token, reconnects with jittered backoff, and on `hello` is up:
// the outbox goes out (cloud-outbox-pump.ts) and deliveries and receipts come in, in arrival order, acked after
// commit (cloud-inbound-order.ts). A router sees isUp(), onChange() and wake(); the session drives the
// lifecycle (connect with a new token, disconnect and go idle when the token goes).
//
// Phases: idle (no connection wanted), connecting (first attempt with a fresh token), connected (the cloud said
// hello), reconnecting (the link dropped, or the cloud was unreachable; the next attempt is at nextAttemptAt()).
import type { Logger } from 'pino';
import type { CloudToNodeFrame } from '../../../shared/wire/relay.js';
import type { MessageStorePort } from '../messaging/relay-port.js';
import { Backoff } from './backoff.js';
import { CloudInboundOrder } from './cloud-inbound-order.js';
import type { CloudLinkOptions } from './cloud-link-options.js';
import type { CloudLinkReport } from './cloud-link-report.js';
import { CloudOutboxPump } from './cloud-outbox-pump.js';
import { RelayConnection, type RelayDown } from './relay-connection.js';
import { refusesToken } from './token-refusal.js';

export type RelayPhase = 'idle' | 'connecting' | 'connected' | 'reconnecting';

/** Close code of a relay socket whose token stopped being valid; the reason is the code (src/cloud relay). */
const CLOSE_UNAUTHORIZED = 4401;

export interface CloudRelayTransportDeps {
  /** The message store; without one the transport still connects, but relays nothing. */
  store?: MessageStorePort | undefined;
  log: Logger;
  options: Pick<CloudLinkOptions, 'backoff' | 'window' | 'pingIntervalMs' | 'helloTimeoutMs' | 'retryBackoff' | 'maxNotPublishedResends'>;
  /** The URL and token to connect with; null while logged out (connect() then does nothing). */
  credentials(): { url: string; token: string } | null;
  /** The cloud refused the token (a 401 upgrade, or a socket closed with 4401). */
  tokenRefused(code: string): void;
  /** The cloud said hello: the session and the key directory start their work (the directory publishes first). */
  connected(): void;
  /** The connection went (or is replaced): their timers stop. */
  dropped(): void;
  /** Sends wait while this is true: our keys are being published. */
  sendsHeld(): boolean;
  /** Why the cloud refused to publish our device `deviceId`, if it did. */
  refusalOf(deviceId: string): { error: string; message: string } | undefined;
  /** Publish our keys again (sends resume when that ends). */
  republish(): void;
  /** The key directory may be stale: fetch it soon. */
  refreshDirectorySoon(): void;
  /** Fetches the key directory until it lists `deviceId` (or gives up). Never rejects. */
  learnSender(deviceId: string): Promise<void>;
  /** A blob for our devices is complete at the cloud (the blob transport lists and fetches what is new). */
  blobReady?(sha256: string): void;
  report: CloudLinkReport;
}

export class CloudRelayTransport {
  private conn: RelayConnection | null = null;
  private now: RelayPhase = 'idle';
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private nextAttempt: string | null = null;
  /** This node's device id as the cloud's hello named it. */
  private deviceId: string | null = null;
  private stopped = false;
  private readonly outbox: CloudOutboxPump;
  private readonly inbound: CloudInboundOrder;
  private readonly listeners = new Set<(up: boolean) => void>();
  private wasUp = false;

  constructor(private readonly d: CloudRelayTransportDeps) {
    this.backoff = new Backoff(d.options.backoff);
    this.outbox = new CloudOutboxPump({
      store: d.store,
      log: d.log,
      options: d.options,
      report: d.report,
      sendable: () => (this.now === 'connected' && !d.sendsHeld() ? this.conn : null),
      refusalOf: (id) => d.refusalOf(id),
      republish: () => d.republish(),
      refreshDirectorySoon: () => d.refreshDirectorySoon(),
    });
    this.inbound = new CloudInboundOrder({ store: d.store, log: d.log, current: () => this.conn, learnSender: (id) => d.learnSender(id) });
  }

  // ---- what a router needs -------------------------------------------------------------------------------

  /** The cloud said hello on the current connection: envelopes go out now. */
  isUp(): boolean {
    return this.now === 'connected';
  }

  /** Called with isUp() each time it flips (after the transport acted on it). Returns an unsubscribe function. */
  onChange(fn: (up: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  /** Something was queued for the cloud: read the outbox again and send what the window allows. */
  wake(): void {
    this.outbox.wake();
  }

  // ---- lifecycle (the session and the facade) ------------------------------------------------------------

  phase(): RelayPhase {
    return this.now;
  }

  /** When the next attempt is due while reconnecting. */
  nextAttemptAt(): string | null {
    return this.nextAttempt;
  }

  /** This node's device id at the cloud, from the current connection's hello. */
  cloudDeviceId(): string | null {
    return this.deviceId;
  }

  /** Opens a relay connection with the current token (replacing any). Without a token, or stopped: nothing. */
  connect(kind: 'connecting' | 'reconnecting'): void {
    clearTimeout(this.retryTimer);
    const creds = this.d.credentials();
    if (this.stopped || !creds) return;
    const { url, token } = creds;
    this.disconnect();
    this.now = kind;
    this.outbox.restart();
    this.deviceId = null;
    const c: RelayConnection = new RelayConnection(
      url,
      token,
      {
        onOpen: () => {},
        onFrame: (f) => {
          if (c === this.conn) this.onFrame(c, f);
        },
        onBadFrame: (raw, problem) => {
          if (c === this.conn) this.onBadFrame(c, raw, problem);
        },
        onDown: (why) => {
          if (c === this.conn) this.onDown(why);
        },
      },
      { pingIntervalMs: this.d.options.pingIntervalMs, helloTimeoutMs: this.d.options.helloTimeoutMs },
    );
    this.conn = c;
    this.d.report.changed();
    this.notify();
  }

  /** Closes the connection (if any) and stops what runs on it; the phase stays (see setIdle, retryLater). */
  disconnect(): void {
    const c = this.conn;
    this.conn = null;
    c?.close();
    this.d.dropped();
    // A new connection publishes and sends everything again anyway.
    this.outbox.halt();
  }

  /** No connection is wanted (logged out, or waiting for a code). */
  setIdle(): void {
    this.now = 'idle';
    this.notify();
  }

  /** Shown as reconnecting; `fn` runs after the next reconnect delay (full-jitter exponential). */
  retryLater(fn: () => void): void {
    this.now = 'reconnecting';
    clearTimeout(this.retryTimer);
    if (!this.stopped) {
      const delay = this.backoff.next();
      this.nextAttempt = new Date(Date.now() + delay).toISOString();
      this.retryTimer = setTimeout(fn, delay);
      this.retryTimer.unref();
      this.d.report.changed();
    }
    this.notify();
  }

  resetBackoff(): void {
    this.backoff.reset();
  }

  /** Send what the window allows (after a publish, which holds sends, ended). */
  resume(): void {
    this.outbox.pump();
  }

  /** Closes the connection, retries no more, and resolves once the frames handed to the store are handled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.disconnect();
    clearTimeout(this.retryTimer);
    await this.inbound.settled();
  }

  // ---- the connection ------------------------------------------------------------------------------------

  private onDown(why: RelayDown): void {
    this.disconnect();
    if (this.stopped) return;
    // A refused upgrade (401 + x-cloud-error) and a socket the cloud closed with 4401 (reason = the code: the
    // token was revoked or expired under a live socket) both mean the token is dead.
    const refusal =
      why.kind === 'refused' && why.status === 401
        ? why.error
        : why.kind === 'closed' && why.code === CLOSE_UNAUTHORIZED
          ? why.reason
          : undefined;
    if (refusal !== undefined && refusesToken(refusal)) {
      this.d.tokenRefused(refusal);
      return;
    }
    const message =
      why.kind === 'refused'
        ? `the cloud refused the relay connection (${why.status} ${why.error})`
        : why.kind === 'closed'
          ? `the connection to the cloud closed (${why.code}${why.reason ? ` ${why.reason}` : ''})`
          : `the connection to the cloud failed: ${why.message}`;
    this.d.log.warn({ why }, 'cloud relay connection down; reconnecting');
    this.d.report.setError(why.kind === 'refused' ? 'cloud_rejected' : 'cloud_unreachable', message);
    this.retryLater(() => this.connect('reconnecting'));
  }

  private onFrame(c: RelayConnection, f: CloudToNodeFrame): void {
    switch (f.type) {
      case 'hello':
        this.now = 'connected';
        this.deviceId = f.device_id;
        this.nextAttempt = null;
        this.d.report.clearError();
        this.backoff.reset();
        this.d.log.info({ device_id: f.device_id, pending: f.pending }, 'connected to the cloud relay');
        // Publish first (connected() starts it): the cloud refuses an envelope whose sender it has not seen
        // published (a phone that paired while we were offline). The pump waits while a publish runs
        // (sendsHeld) and starts when it ends.
        this.d.connected();
        this.d.report.changed();
        this.outbox.pump();
        this.notify();
        return;
      case 'accepted':
        this.outbox.accepted(f.id);
        return;
      case 'rejected':
        this.outbox.rejected(f);
        return;
      case 'deliver':
        this.inbound.deliver(c, f);
        return;
      case 'receipt':
        this.inbound.receipt(c, f);
        return;
      case 'blob_ready':
        this.d.blobReady?.(f.sha256);
        return;
      case 'error':
        this.d.log.warn({ error: f.error, message: f.message }, 'the cloud could not take a frame');
        return;
    }
  }

  private onBadFrame(c: RelayConnection, raw: unknown, problem: string): void {
    const r = raw as { type?: unknown; seq?: unknown } | undefined;
    if ((r?.type === 'deliver' || r?.type === 'receipt') && Number.isSafeInteger(r.seq) && (r.seq as number) > 0) {
      // It can never become valid; not acking it would stall this node's queue at the cloud for good.
      this.d.log.error({ seq: r.seq, problem }, 'dropped a malformed delivery from the cloud');
      this.inbound.malformed(c, r.seq as number);
      return;
    }
    this.d.log.warn({ problem }, 'ignored a malformed frame from the cloud');
  }

  /** Tells the listeners when isUp() flipped. */
  private notify(): void {
    const up = this.isUp();
    if (up === this.wasUp) return;
    this.wasUp = up;
    for (const fn of [...this.listeners]) {
      try {
        fn(up);
      } catch (err) {
        this.d.log.warn({ err: (err as Error).message }, 'cloud transport listener failed');
      }
    }
  }
}
