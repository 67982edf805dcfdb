// WebSocket handshakes that are not one: `Upgrade: websocket` without `Connection: Upgrade`, a missing or bad
// Sec-WebSocket-Key, another Sec-WebSocket-Version. Node's HTTP server hands a request without `Connection:
// Upgrade` to the normal request path, where @hono/node-server's upgradeWebSocket answers an empty 500; a real
// upgrade with a bad key is answered by ws as text/html. Both sides check here first and answer a JSON
// `{error, message}` 400 (426 for the version, with the version we speak).
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { MiddlewareHandler } from 'hono';

export interface UpgradeProblem {
  status: 400 | 426;
  error: 'invalid_request';
  message: string;
}

type HeaderGet = (name: string) => string | undefined;

/** What is wrong with a request that asks for a WebSocket, or undefined if it is a well-formed handshake. */
export function upgradeProblem(header: HeaderGet, method: string): UpgradeProblem | undefined {
  const bad = (message: string): UpgradeProblem => ({ status: 400, error: 'invalid_request', message });
  if (method !== 'GET') return bad('A WebSocket handshake must be a GET request.');
  if (header('upgrade')?.trim().toLowerCase() !== 'websocket') return bad('This route only speaks WebSocket: send `Upgrade: websocket`.');
  const connection = (header('connection') ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim());
  if (!connection.includes('upgrade')) return bad('A WebSocket handshake needs `Connection: Upgrade`.');
  const version = header('sec-websocket-version')?.trim();
  if (version !== '13') {
    return {
      status: 426,
      error: 'invalid_request',
      message: 'Only WebSocket version 13 is spoken here: send `Sec-WebSocket-Version: 13`.',
    };
  }
  const key = header('sec-websocket-key')?.trim() ?? '';
  // RFC 6455 §4.1: the key is 16 random bytes, base64-encoded (24 characters ending in `==`).
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return bad('Sec-WebSocket-Key must be 16 bytes in base64.');
  return undefined;
}

/**
 * For the WebSocket routes of a hono app: a request that reaches the route as plain HTTP (no `Connection:
 * Upgrade`, so Node never saw an upgrade) or with a bad handshake gets the JSON error instead of a 500.
 */
export function webSocketHandshakeGuard(): MiddlewareHandler {
  return async (c, next) => {
    const problem = upgradeProblem((n) => c.req.header(n), c.req.method);
    if (problem) {
      if (problem.status === 426) c.header('sec-websocket-version', '13');
      return c.json({ error: problem.error, message: problem.message }, problem.status);
    }
    await next();
  };
}

function headerOf(headers: IncomingHttpHeaders): HeaderGet {
  return (name) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}

/**
 * Puts the handshake check in front of the server's existing 'upgrade' listeners (those of @hono/node-server),
 * so a bad handshake is refused with a JSON body before ws writes its text/html one. Call once, after the
 * server is created.
 */
export function guardUpgradeHandshakes(server: Server): void {
  const inner = server.listeners('upgrade') as ((req: unknown, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (req: { headers: IncomingHttpHeaders; method?: string }, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {
      /* a peer that goes away mid-handshake: nothing to do */
    });
    const problem = upgradeProblem(headerOf(req.headers), req.method ?? 'GET');
    if (problem && req.headers.upgrade?.toLowerCase() === 'websocket') {
      const body = JSON.stringify({ error: problem.error, message: problem.message });
      const extra = problem.status === 426 ? 'Sec-WebSocket-Version: 13\r\n' : '';
      const reason = problem.status === 426 ? 'Upgrade Required' : 'Bad Request';
      socket.end(
        `HTTP/1.1 ${problem.status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n${extra}` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    for (const l of inner) l.call(server, req, socket, head);
  });
}
