// startCloud(): the reference cloud endpoint as one object (used by `npm run cloud` and by the tests as is).
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { AuthService, DEFAULT_AUTH_TIMINGS, type AuthTimings } from './auth-service.js';
import { createCloudApp } from './app.js';
import { openCloudDatabase } from './db/open.js';
import { LogOtpSender, type OtpSender } from './otp-sender.js';
import { loadOrCreateStaticKey } from './static-key.js';
import { KeyDirectory } from './key-directory.js';
import { RelayHub, TOKEN_RECHECK_MS } from './relay-hub.js';
import { MAX_RELAY_FRAME_BYTES } from './relay-socket.js';
import { RelayStore } from './relay-store.js';
import { RelayWriter } from './relay-writer.js';
import { Telemetry } from './telemetry.js';
import { DEFAULT_WS_PING_INTERVAL_MS, startWsHeartbeat } from '../shared/net/ws-heartbeat.js';

export interface CloudOptions {
  dataDir: string;
  /** 0 = any free port. */
  port: number;
  host?: string;
  otpSender?: OtpSender;
  timings?: Partial<AuthTimings>;
  log?: (msg: string) => void;
  /** Process metrics (CPU, memory, event loop) in /metrics too; off in tests. */
  defaultMetrics?: boolean;
  /** How often relay sockets re-check their token (default TOKEN_RECHECK_MS). */
  tokenRecheckMs?: number;
  /** How often every relay/noise socket is pinged; one that missed the previous pong is closed (default 30 s). */
  wsPingIntervalMs?: number;
}

export interface RunningCloud {
  port: number;
  url: string;
  /** The cloud's static X25519 public key (what IK clients pin). */
  publicKey: Uint8Array;
  auth: AuthService;
  telemetry: Telemetry;
  directory: KeyDirectory;
  relay: RelayHub;
  stop(): Promise<void>;
}

/**
 * Above the relay's own frame limit, so an oversized relay frame still gets an `error` frame and the socket
 * stays up; only a frame past this is cut off by ws (close 1009).
 */
export const WS_MAX_PAYLOAD = 4 * MAX_RELAY_FRAME_BYTES;

export async function startCloud(opts: CloudOptions): Promise<RunningCloud> {
  const log = opts.log ?? ((m: string) => console.log(`[salita-cloud] ${m}`));
  const host = opts.host ?? '127.0.0.1';
  const staticKey = loadOrCreateStaticKey(opts.dataDir);
  const database = openCloudDatabase(opts.dataDir);
  const telemetry = new Telemetry({ defaultMetrics: opts.defaultMetrics ?? false });
  const auth = new AuthService(database.db, telemetry, opts.otpSender ?? new LogOtpSender(log), { ...DEFAULT_AUTH_TIMINGS, ...opts.timings });
  const directory = new KeyDirectory(database.db);
  const store = new RelayStore(database.db, directory);
  store.pruneDelivered();
  const hub = new RelayHub(store, auth, log, opts.tokenRecheckMs ?? TOKEN_RECHECK_MS);
  // Forgetting delivered ids is housekeeping; twice a day is plenty for a 7-day memory.
  const prune = setInterval(() => { try { store.pruneDelivered(); } catch (err) { log(`relay: prune failed: ${(err as Error).message}`); } }, 12 * 60 * 60_000);
  prune.unref();
  const writer = new RelayWriter(database.db, store, (touched) => hub.pumpSoon(touched));
  const app = createCloudApp({ auth, telemetry, staticKey, directory, relay: { hub, writer }, log });
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD });
  const server = createAdaptorServer({ fetch: app.fetch as never, websocket: { server: wss } }) as Server;
  // A relay socket whose node vanished without a FIN would otherwise hold its link (and its queue's delivery
  // slot) until the token recheck; pings find it within two intervals.
  const stopHeartbeat = startWsHeartbeat(wss, opts.wsPingIntervalMs ?? DEFAULT_WS_PING_INTERVAL_MS);
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, host, () => {
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : opts.port);
      });
    });
  } catch (err) {
    hub.stop();
    stopHeartbeat();
    clearInterval(prune);
    database.close();
    wss.close();
    throw err;
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    port, url: `http://${urlHost}:${port}`, publicKey: staticKey.publicKey, auth, telemetry, directory, relay: hub,
    stop: async () => {
      hub.stop();
      stopHeartbeat();
      clearInterval(prune);
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
      database.close();
    },
  };
}
