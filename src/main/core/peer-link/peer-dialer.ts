// Dials one address of a paired desktop: a WebSocket to GET /api/peer/link?session=<id>, then the dialer's side
// of the handshake. Resolves with the established connection, or rejects (refused, unreachable, timed out,
// handshake failed). A refusal of any kind (an HTTP 401 on the upgrade included) is only "not now": anyone on
// the LAN can forge one, so nothing here ends a pairing.
import { WebSocket } from 'ws';
import type { HandshakeState } from '../../../shared/crypto/noise/index.js';
import {
  PEER_CLOSE,
  PEER_LINK_FEATURES,
  PEER_LINK_FEATURES_PARAM,
  PEER_LINK_PATH,
  PEER_LINK_SESSION_PARAM,
} from '../../../shared/wire/peer-link.js';
import { hostForUrl } from '../net/lan-addresses.js';
import { PeerConnection, type PeerConnectionEvents } from './peer-connection.js';

/** One WebSocket message may hold one Noise message (65535 bytes) and no more. */
export const PEER_WS_MAX_PAYLOAD = 65535;

export interface DialOptions {
  host: string;
  port: number;
  sessionId: string;
  handshake: HandshakeState;
  timeoutMs: number;
  /** Pings the socket this often; one that missed the previous pong is terminated (a peer gone without a FIN). */
  pingIntervalMs: number;
  /**
   * Events after the handshake. onEstablished runs synchronously when the handshake completes, before any
   * later message of the same read is handled (the peer's hello often arrives in the same TCP segment).
   */
  events: PeerConnectionEvents;
}

/** The link's URL; it names the features we speak (a listener that does not know the parameter ignores it). */
export function peerLinkUrl(host: string, port: number, sessionId: string, features: readonly string[] = PEER_LINK_FEATURES): string {
  const named = features.length ? `&${PEER_LINK_FEATURES_PARAM}=${encodeURIComponent(features.join(','))}` : '';
  return `ws://${hostForUrl(host)}:${port}${PEER_LINK_PATH}?${PEER_LINK_SESSION_PARAM}=${encodeURIComponent(sessionId)}${named}`;
}

export function dialPeer(o: DialOptions): Promise<PeerConnection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(peerLinkUrl(o.host, o.port, o.sessionId), {
      maxPayload: PEER_WS_MAX_PAYLOAD,
      handshakeTimeout: o.timeoutMs,
      perMessageDeflate: false,
    });
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      reject(new Error(why));
    };
    let alive = true;
    const pinger = setInterval(
      () => {
        if (!alive) {
          ws.terminate();
          return;
        }
        alive = false;
        try {
          ws.ping();
        } catch {
          /* closing */
        }
      },
      Math.max(50, o.pingIntervalMs),
    );
    pinger.unref();
    ws.on('pong', () => {
      alive = true;
    });
    const conn = new PeerConnection(
      {
        send: (d) => ws.send(d),
        close: (code, reason) => ws.close(code, reason),
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
      },
      o.handshake,
      true,
      {
        onEstablished: (c) => {
          if (settled) {
            c.close(PEER_CLOSE.protocol, 'too_late');
            return;
          }
          settled = true;
          o.events.onEstablished(c);
          resolve(c);
        },
        onFrame: (c, f) => o.events.onFrame(c, f),
        onClosed: (c, code, reason) => {
          clearInterval(pinger);
          if (!settled) fail(`closed during the handshake (${code} ${reason})`);
          else o.events.onClosed(c, code, reason);
        },
      },
      o.timeoutMs,
    );
    ws.on('open', () => conn.start());
    ws.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      conn.receive(isBinary ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes.toString('utf8'));
    });
    ws.on('unexpected-response', (_req, res) => {
      fail(`HTTP ${res.statusCode} on the upgrade`);
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => {
      fail(err.message);
      conn.socketClosed(1006, err.message);
    });
    ws.on('close', (code, reason) => conn.socketClosed(code, reason.toString()));
  });
}
