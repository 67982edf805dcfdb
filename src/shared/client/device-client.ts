// The one client that makes signed device requests: used by the phone page, by a desktop calling another
// desktop, and by the tests. It signs every request (request-signing.ts) and forgets its session when the
// node says the session is gone, so the caller re-pairs instead of retrying forever.
import { deriveServerHmacKey, type Sha256Functions, signRequest } from '../auth/request-signing.js';
import { utf8 } from '../encoding.js';

export interface DeviceCredentials {
  sessionId: string;
  /** From the pairing handshake; the HMAC key is re-derived from it per request (docs/protocol.md, "Signed device requests"). */
  deviceSecret: Uint8Array;
}

export interface DeviceResponse<T = unknown> {
  status: number;
  body: T;
}

/** 401 codes after which the session is useless: re-pair. (timestamp_skew / nonce_reused are retryable.) */
export const SESSION_LOST_CODES = ['session_unknown', 'session_revoked', 'signature_invalid'] as const;

export const WS_AUTH_PARAMS = {
  session: 'salita_session',
  timestamp: 'salita_ts',
  nonce: 'salita_nonce',
  signature: 'salita_sig',
} as const;

export class DeviceClient {
  constructor(
    private readonly baseUrl: string,
    private creds: DeviceCredentials | undefined,
    private readonly opts: {
      fetch?: typeof fetch;
      onSessionLost?: (code: string) => void;
      clockOffsetMs?: number;
      sha256?: Sha256Functions;
    } = {},
  ) {}

  /** Derived once per session: an HKDF per request would cost more than the HMAC itself. */
  private keyFor: { secret: Uint8Array; key: Uint8Array } | undefined;
  private hmacKey(creds: DeviceCredentials): Uint8Array {
    if (this.keyFor?.secret !== creds.deviceSecret)
      this.keyFor = { secret: creds.deviceSecret, key: deriveServerHmacKey(creds.deviceSecret) };
    return this.keyFor.key;
  }

  get hasSession(): boolean {
    return this.creds !== undefined;
  }

  // biome-ignore lint/suspicious/noExplicitAny: the default is for tests that read untyped wire answers on purpose; typed callers pass T
  async request<T = any>(method: string, pathWithQuery: string, body?: unknown): Promise<DeviceResponse<T>> {
    const bytes = body === undefined ? new Uint8Array(0) : utf8.encode(JSON.stringify(body));
    let res: Response;
    try {
      res = await this.send(method, pathWithQuery, body === undefined ? undefined : bytes);
    } catch (err) {
      // A kept-alive connection the node closed just as this request went out fails before any answer
      // ("other side closed"). Every device request is safe to repeat (a send is kept once per envelope id, an
      // ack names a sequence number), so it goes once more on a fresh connection, freshly signed (new nonce).
      if (!(err instanceof TypeError)) throw err;
      res = await this.send(method, pathWithQuery, body === undefined ? undefined : bytes);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: hand the text back as is */
    }
    const code = (parsed as { error?: string } | null)?.error;
    if (res.status === 401 && code && (SESSION_LOST_CODES as readonly string[]).includes(code)) {
      this.creds = undefined;
      this.opts.onSessionLost?.(code);
    }
    return { status: res.status, body: parsed as T };
  }

  private send(method: string, pathWithQuery: string, bytes: Uint8Array | undefined): Promise<Response> {
    if (!this.creds) throw new Error('no session: pair first');
    const headers = signRequest({
      sessionId: this.creds.sessionId,
      serverHmacKey: this.hmacKey(this.creds),
      ...(this.opts.sha256 ? { sha256: this.opts.sha256 } : {}),
      method,
      pathWithQuery,
      body: bytes ?? new Uint8Array(0),
      now: Date.now() + (this.opts.clockOffsetMs ?? 0),
    });
    return (this.opts.fetch ?? fetch)(this.baseUrl + pathWithQuery, {
      method,
      headers: { ...headers, ...(bytes !== undefined ? { 'content-type': 'application/json' } : {}) },
      // The exact bytes that were signed; a string would be re-encoded by fetch, identically, but say it plainly.
      ...(bytes !== undefined ? { body: bytes as BodyInit } : {}),
    });
  }

  /**
   * The signed headers of a request another HTTP stack sends (a tus upload, a ranged download): a body too large
   * to hold is named by its SHA-256 (hex), sent as X-Content-SHA256 by the caller.
   */
  signedHeaders(method: string, pathWithQuery: string, bodySha256Hex?: string): Record<string, string> {
    if (!this.creds) throw new Error('no session: pair first');
    return {
      ...signRequest({
        sessionId: this.creds.sessionId,
        serverHmacKey: this.hmacKey(this.creds),
        ...(this.opts.sha256 ? { sha256: this.opts.sha256 } : {}),
        method,
        pathWithQuery,
        ...(bodySha256Hex !== undefined ? { bodySha256Hex } : {}),
        now: Date.now() + (this.opts.clockOffsetMs ?? 0),
      }),
    };
  }

  /** A ws:// URL for `path` carrying a signed GET in its query (browsers cannot set WebSocket headers). */
  webSocketUrl(path: string): string {
    if (!this.creds) throw new Error('no session: pair first');
    const h = signRequest({
      sessionId: this.creds.sessionId,
      serverHmacKey: this.hmacKey(this.creds),
      ...(this.opts.sha256 ? { sha256: this.opts.sha256 } : {}),
      method: 'GET',
      pathWithQuery: path,
      now: Date.now() + (this.opts.clockOffsetMs ?? 0),
    });
    const u = new URL(this.baseUrl.replace(/^http/, 'ws') + path);
    u.searchParams.set(WS_AUTH_PARAMS.session, this.creds.sessionId);
    u.searchParams.set(WS_AUTH_PARAMS.timestamp, h['x-timestamp']);
    u.searchParams.set(WS_AUTH_PARAMS.nonce, h['x-nonce']);
    u.searchParams.set(WS_AUTH_PARAMS.signature, h['x-signature']);
    return u.toString();
  }
}
