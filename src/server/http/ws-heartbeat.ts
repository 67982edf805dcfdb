// Server-side WebSocket keepalive, used by the node and the cloud. A peer that vanished without a FIN (a phone
// that left Wi-Fi, a NAT that dropped the mapping, a client that simply stopped reading) leaves a socket that
// looks open forever and holds its slot. Every `intervalMs` each socket is pinged; a socket that has not
// answered the previous ping with a pong by the next round is terminated. Browsers and ws answer pings on
// their own, so healthy clients need no code for this.
import type { WebSocket, WebSocketServer } from 'ws';

export const DEFAULT_WS_PING_INTERVAL_MS = 30_000;

/** Starts pinging every client of `wss`; returns the function that stops it. Never throws from the timer. */
export function startWsHeartbeat(wss: WebSocketServer, intervalMs: number, onTerminate?: (ws: WebSocket) => void): () => void {
  const alive = new WeakMap<WebSocket, boolean>();
  const onConnection = (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
  };
  wss.on('connection', onConnection);
  const timer = setInterval(
    () => {
      for (const ws of wss.clients) {
        try {
          if (alive.get(ws) === false) {
            onTerminate?.(ws);
            ws.terminate();
            continue;
          }
          alive.set(ws, false);
          ws.ping();
        } catch {
          // A socket already going away: its own close handling cleans up.
        }
      }
    },
    Math.max(10, intervalMs),
  );
  timer.unref();
  return () => {
    clearInterval(timer);
    wss.off('connection', onConnection);
  };
}
