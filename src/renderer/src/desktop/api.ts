// The desktop UI's only link to the node: the admin HTTP API and the admin event WebSocket.
import type { AdminEvent } from '../../../shared/wire/schemas.js';

const TOKEN_KEY = 'salita.adminToken';
export const ADMIN_WS_PROTOCOL = 'salita-admin';

export class ApiFailure extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly body: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const t = params.get('admin');
  return t && /^[A-Za-z0-9_-]{16,}$/.test(t) ? t : null;
}

/**
 * The admin token: from the URL fragment (`#admin=<token>`, then removed from the visible URL and kept in
 * sessionStorage for reloads), else from sessionStorage, else from the Electron bridge.
 */
export async function acquireAdminToken(opts: { preferBridge?: boolean } = {}): Promise<string | null> {
  const fromHash = tokenFromHash(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(history.state, '', location.pathname + location.search);
    return fromHash;
  }
  if (!opts.preferBridge) {
    const stored = sessionStorage.getItem(TOKEN_KEY);
    if (stored) return stored;
  }
  if (window.salita) {
    try {
      const t = tokenFromHash(new URL(await window.salita.getAdminUrl()).hash);
      if (t) {
        sessionStorage.setItem(TOKEN_KEY, t);
        return t;
      }
    } catch {
      // fall through: the page explains how to open it with a token
    }
  }
  return null;
}

export class AdminApi {
  constructor(private token: string) {}

  setToken(token: string): void {
    this.token = token;
  }

  get currentToken(): string {
    return this.token;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: { authorization: `Admin ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        cache: 'no-store',
      });
    } catch {
      throw new ApiFailure(0, 'network', 'Cannot reach the Salita node. Is it still running?');
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const fields: { error?: unknown; message?: unknown } = typeof json === 'object' && json !== null ? json : {};
      if (res.status === 401 && fields.error === 'unauthorized') {
        throw new ApiFailure(
          401,
          'unauthorized',
          "This page's admin token is not valid (was the node restarted?). Open the desktop UI link the node printed, or use the Salita window.",
          json,
        );
      }
      throw new ApiFailure(
        res.status,
        typeof fields.error === 'string' ? fields.error : `http_${res.status}`,
        typeof fields.message === 'string' ? fields.message : `The node answered with HTTP ${res.status}.`,
        json,
      );
    }
    return json as T;
  }
}

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

// ---- network responses ------------------------------------------------------------------------------------
// Typed here until src/shared/wire/schemas.ts has them; every field the node may not send yet is optional,
// so an older node (or one mid-upgrade) still renders.

export type InterfaceKind = 'lan' | 'vpn' | 'container' | 'loopback' | 'link-local';
export type FirewallOs = 'linux' | 'macos' | 'windows';

export interface DiagnosticsInterface {
  name: string;
  address: string;
  family: 'IPv4' | 'IPv6';
  kind: InterfaceKind;
  advertised: boolean;
}

export interface DiagnosticsReachability {
  address: string;
  url: string;
  ok: boolean;
  error?: string;
}

export interface DiagnosticsMdns {
  enabled: boolean;
  running: boolean;
  instance_name?: string;
  advertised_addresses: string[];
  discovered: number;
  last_error?: string;
}

export interface DiagnosticsAttempt {
  address: string;
  ok: boolean;
  error?: string;
}

export interface DiagnosticsPeer {
  node_id: string;
  name: string;
  status: string;
  last_seen: string | null;
  addresses: string[];
  last_attempt?: { at: string; tried: DiagnosticsAttempt[] };
}

/** `GET /api/node/diagnostics` */
export interface DiagnosticsResponse {
  interfaces: DiagnosticsInterface[];
  /** Interface names chosen in the settings that this machine does not have right now. */
  missing_interfaces?: string[];
  port: number;
  listen: { host: string; addresses: string[]; pending_restart?: boolean };
  reachability: DiagnosticsReachability[];
  mdns: DiagnosticsMdns;
  peers: DiagnosticsPeer[];
  firewall_hints: { os: FirewallOs; text: string }[];
}

/** `GET/PUT /api/admin/settings`: interface names to advertise; null = automatic (every 'lan' and 'vpn' one). */
export interface AdminSettings {
  interfaces: string[] | null;
  /** 'advertised': listen only on advertised addresses + loopback, from the next start. Older nodes omit it. */
  listen?: 'all' | 'advertised';
}

/** `GET /api/node/addresses` (public, for the phone page). */
export interface NodeAddressesResponse {
  urls: string[];
}

export interface DeviceReplacedNotice {
  id: string;
  type: 'device_replaced';
  name: string;
  old_node_id: string;
  new_node_id: string;
  at: string;
}

/** A paired desktop unpaired this one (told over the peer link). */
export interface PeerUnpairedNotice {
  id: string;
  type: 'peer_unpaired';
  name: string;
  node_id: string;
  at: string;
}

export type UiNotice = DeviceReplacedNotice | PeerUnpairedNotice;

/** Presence as the node reports it; 'degraded' = heard from recently, but not within the last heartbeats. */
export type Presence = 'online' | 'degraded' | 'offline';

/** The issue-5 additions to AdminState, all optional so an older node's state still renders. */
export interface AdminStateExtras {
  notices?: UiNotice[];
  lan_addresses: { interface: string; address: string; family: 'IPv4' | 'IPv6'; kind?: InterfaceKind; advertised?: boolean }[];
}
