// The admin event socket: the node pushes its whole state on connect and after every change, and the events
// (an envelope for the UI's messaging device, a cloud link change) as they happen.
import type { AdminEvent } from '../../../shared/wire/schemas.js';

export const ADMIN_WS_PROTOCOL = 'salita-admin';

export type SocketStatus = { kind: 'connecting' } | { kind: 'live' } | { kind: 'retrying'; inMs: number };

/**
 * The admin event socket, reconnecting with capped exponential backoff (and jitter) when it drops. The node
 * pushes the whole state on connect and after every change, so a reconnect needs no catching up.
 */
export class AdminSocket {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly tokenOf: () => string,
    private readonly handlers: {
      onEvent: (e: AdminEvent) => void;
      onStatus: (s: SocketStatus) => void;
      /** Called after a connection failed or dropped; resolve false to stop retrying (e.g. the token is dead). */
      onDropped: () => Promise<boolean>;
    },
  ) {}

  connect(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.handlers.onStatus({ kind: 'connecting' });
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/admin/events`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, [ADMIN_WS_PROTOCOL, this.tokenOf()]);
    } catch {
      void this.dropped();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.handlers.onStatus({ kind: 'live' });
    };
    ws.onmessage = (m) => {
      try {
        this.handlers.onEvent(JSON.parse(String(m.data)) as AdminEvent);
      } catch {
        // a malformed frame is ignored; the next state push repairs the view
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      void this.dropped();
    };
  }

  /** Reconnect now (e.g. the window became visible again) instead of waiting out the backoff. */
  nudge(): void {
    if (!this.ws && this.timer !== undefined) this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }

  private async dropped(): Promise<void> {
    if (this.stopped) return;
    const keepTrying = await this.handlers.onDropped();
    if (!keepTrying || this.stopped) {
      this.stopped = true;
      return;
    }
    const base = Math.min(15_000, 500 * 2 ** this.attempt);
    const inMs = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt = Math.min(this.attempt + 1, 10);
    this.handlers.onStatus({ kind: 'retrying', inMs });
    this.timer = setTimeout(() => this.connect(), inMs);
  }
}
