// startCloud(): the reference cloud endpoint as one object (used by `npm run cloud` and by the tests as is).
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { AuthService, DEFAULT_AUTH_TIMINGS, type AuthTimings } from './auth-service.js';
import { createCloudApp } from './app.js';
import { openCloudDatabase } from './db/open.js';
import { LogOtpSender, type OtpSender } from './otp-sender.js';
import { loadOrCreateStaticKey } from './static-key.js';
import { Telemetry } from './telemetry.js';

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
}

export interface RunningCloud {
  port: number;
  url: string;
  /** The cloud's static X25519 public key (what IK clients pin). */
  publicKey: Uint8Array;
  auth: AuthService;
  telemetry: Telemetry;
  stop(): Promise<void>;
}

export const WS_MAX_PAYLOAD = 64 * 1024;

export async function startCloud(opts: CloudOptions): Promise<RunningCloud> {
  const log = opts.log ?? ((m: string) => console.log(`[salita-cloud] ${m}`));
  const host = opts.host ?? '127.0.0.1';
  const staticKey = loadOrCreateStaticKey(opts.dataDir);
  const database = openCloudDatabase(opts.dataDir);
  const telemetry = new Telemetry({ defaultMetrics: opts.defaultMetrics ?? false });
  const auth = new AuthService(database.db, telemetry, opts.otpSender ?? new LogOtpSender(log), { ...DEFAULT_AUTH_TIMINGS, ...opts.timings });
  const app = createCloudApp({ auth, telemetry, staticKey, log });
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD });
  const server = createAdaptorServer({ fetch: app.fetch as never, websocket: { server: wss } }) as Server;
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
    database.close();
    wss.close();
    throw err;
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    port, url: `http://${urlHost}:${port}`, publicKey: staticKey.publicKey, auth, telemetry,
    stop: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
      database.close();
    },
  };
}
