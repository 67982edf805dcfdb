// One WebSocket to the cloud's relay (`WS /v1/relay`, `Authorization: Noise <token>`): parses the cloud's frames,
// keeps the socket alive with pings, and reports exactly once why it went down. The policy (reconnect, log out,
// log in again) is the CloudLink's.
import WebSocket from 'ws';
import { CLOUD_ERROR_HEADER } from '../../../shared/wire/cloud.js';
import { CloudToNodeFrame, type NodeToCloudFrame } from '../../../shared/wire/relay.js';

export type RelayDown =
  /** The upgrade was refused with an HTTP status; `error` is the cloud's code from the x-cloud-error header. */
  | { kind: 'refused'; status: number; error: string }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'error'; message: string };

export interface RelayHandlers {
  onOpen(): void;
  onFrame(frame: CloudToNodeFrame): void;
  /** A text frame that is not a frame of the contract (`raw` is the parsed JSON, if it parsed). */
  onBadFrame(raw: unknown, problem: string): void;
  onDown(why: RelayDown): void;
}

export interface RelayConnectionOptions {
  /** Ping interval; a socket that missed a whole interval without a pong is dropped. */
  pingIntervalMs: number;
  /** Gives up on a socket that opened but sent no `hello` within this time. */
  helloTimeoutMs: number;
}

export const relayUrl = (base: string) => `${base.replace(/^http/, 'ws')}/v1/relay`;

export class RelayConnection {
  private readonly ws: WebSocket;
  private done = false;
  private alive = true;
  private ping: NodeJS.Timeout | undefined;
  private helloTimer: NodeJS.Timeout | undefined;

  constructor(
    base: string,
    token: string,
    private readonly h: RelayHandlers,
    opts: RelayConnectionOptions,
  ) {
    this.ws = new WebSocket(relayUrl(base), {
      headers: { authorization: `Noise ${token}` },
      handshakeTimeout: 15_000,
      maxPayload: 1024 * 1024,
    });
    this.ws.on('unexpected-response', (_req, res) => {
      const header = res.headers[CLOUD_ERROR_HEADER];
      const error = (Array.isArray(header) ? header[0] : header) ?? `http_${res.statusCode ?? 0}`;
      res.resume();
      this.finish({ kind: 'refused', status: res.statusCode ?? 0, error });
    });
    this.ws.on('open', () => {
      if (this.done) return;
      this.helloTimer = setTimeout(
        () => this.finish({ kind: 'error', message: `the cloud sent no hello within ${opts.helloTimeoutMs} ms` }),
        opts.helloTimeoutMs,
      );
      this.ping = setInterval(() => {
        if (!this.alive) return this.finish({ kind: 'error', message: 'the cloud stopped answering pings' });
        this.alive = false;
        try {
          this.ws.ping();
        } catch {
          /* the close event follows */
        }
      }, opts.pingIntervalMs);
      this.h.onOpen();
    });
    this.ws.on('pong', () => {
      this.alive = true;
    });
    this.ws.on('message', (data, isBinary) => {
      if (this.done) return;
      this.alive = true;
      if (isBinary) return this.h.onBadFrame(undefined, 'binary frame');
      let raw: unknown;
      try {
        raw = JSON.parse(String(data));
      } catch {
        return this.h.onBadFrame(undefined, 'not JSON');
      }
      const parsed = CloudToNodeFrame.safeParse(raw);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        return this.h.onBadFrame(raw, first ? `${first.path.join('.') || 'frame'}: ${first.message}` : 'invalid frame');
      }
      if (parsed.data.type === 'hello') clearTimeout(this.helloTimer);
      this.h.onFrame(parsed.data);
    });
    this.ws.on('error', (err) => this.finish({ kind: 'error', message: err.message }));
    this.ws.on('close', (code, reason) => this.finish({ kind: 'closed', code, reason: reason.toString() }));
  }

  get open(): boolean {
    return !this.done && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: NodeToCloudFrame): boolean {
    return this.sendText(JSON.stringify(frame));
  }

  /** Sends a frame already serialised by the caller (a NodeToCloudFrame as JSON text). */
  sendText(text: string): boolean {
    if (!this.open) return false;
    this.ws.send(text);
    return true;
  }

  /** Closes without reporting onDown (the link asked for it). */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
  }

  private finish(why: RelayDown): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
    this.h.onDown(why);
  }

  private cleanup(): void {
    clearInterval(this.ping);
    clearTimeout(this.helloTimer);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, 'bye');
    else this.ws.terminate();
  }
}
