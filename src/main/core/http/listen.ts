// Starts the HTTP(+WS) server on the wanted port; if it is taken, either fails with a clear message
// (strictPort) or walks up to the next free port, so a second node on one machine still starts.

import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import type { LogBudget } from '../../../server/http/log-budget.js';
import { guardServer } from '../../../server/http/server-guards.js';
import { guardUpgradeHandshakes } from '../../../server/http/websocket-upgrade.js';
import { startWsHeartbeat } from '../../../server/http/ws-heartbeat.js';

export const WS_MAX_PAYLOAD = 64 * 1024;

export class PortInUseError extends Error {
  constructor(public readonly port: number) {
    super(
      `Port ${port} is already in use. Stop the other program, or start Salita with --port <n> (or without --strict-port to take the next free port).`,
    );
    this.name = 'PortInUseError';
  }
}

export interface Listening {
  server: Server;
  wss: WebSocketServer;
  port: number;
  /** Every address actually bound (the main host, then any extra hosts that could be bound). */
  hosts: string[];
  /** Extra hosts that could not be bound (e.g. an address that vanished), with the reason. */
  failed: { host: string; error: string }[];
  close(): Promise<void>;
}

function tryListen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * `host` is bound first (it decides the port, with the fallback above); `extraHosts` are then bound on that same
 * port, each by its own server sharing the handler and the WebSocket server (a Node server binds one address).
 */
export async function listen(
  fetch: (req: Request, env: never) => Response | Promise<Response>,
  opts: {
    port: number;
    host: string;
    extraHosts?: string[];
    strictPort: boolean;
    maxTries?: number;
    edgeLog?: LogBudget;
    wsPingIntervalMs?: number;
  },
): Promise<Listening> {
  const maxTries = opts.strictPort || opts.port === 0 ? 1 : (opts.maxTries ?? 20);
  let lastErr: unknown;
  for (let i = 0; i < maxTries; i++) {
    const port = opts.port === 0 ? 0 : opts.port + i;
    // Frames are small JSON events; cap them so a peer cannot make us buffer megabytes.
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: WS_MAX_PAYLOAD,
      handleProtocols: (protocols) => (protocols.has('salita-admin') ? 'salita-admin' : false),
    });
    const server = createAdaptorServer({ fetch: fetch as never, websocket: { server: wss } }) as Server;
    guardUpgradeHandshakes(server);
    try {
      const bound = await tryListen(server, port, opts.host);
      // After listening, so a taken port still fails the start (the fallback above) instead of being logged.
      if (opts.edgeLog) guardServer(server, opts.edgeLog);
      const servers = [server];
      const hosts = [opts.host];
      const failed: Listening['failed'] = [];
      for (const host of opts.extraHosts ?? []) {
        if (hosts.includes(host)) continue;
        const extra = createAdaptorServer({ fetch: fetch as never, websocket: { server: wss } }) as Server;
        guardUpgradeHandshakes(extra);
        try {
          await tryListen(extra, bound, host);
          if (opts.edgeLog) guardServer(extra, opts.edgeLog);
          servers.push(extra);
          hosts.push(host);
        } catch (err) {
          failed.push({ host, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
        }
      }
      // Pings every device and admin socket so one whose peer vanished is found and closed.
      const stopHeartbeat = opts.wsPingIntervalMs !== undefined ? startWsHeartbeat(wss, opts.wsPingIntervalMs) : () => {};
      return {
        server,
        wss,
        port: bound,
        hosts,
        failed,
        close: async () => {
          stopHeartbeat();
          for (const client of wss.clients) client.terminate();
          wss.close();
          await Promise.all(
            servers.map(
              (s) =>
                new Promise<void>((resolve) => {
                  s.closeAllConnections();
                  s.close(() => resolve());
                }),
            ),
          );
        },
      };
    } catch (err) {
      wss.close();
      lastErr = err;
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  if ((lastErr as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') throw new PortInUseError(opts.port);
  throw lastErr;
}
