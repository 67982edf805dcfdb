// startCloud(): the reference cloud endpoint as one object (used by `npm run cloud` and by the tests as is).

import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { backupsDir, DailyBackup } from '../server/db/sqlite-backup.js';
import { LogBudget } from '../server/http/log-budget.js';
import { guardServer } from '../server/http/server-guards.js';
import { guardUpgradeHandshakes } from '../server/http/websocket-upgrade.js';
import { DEFAULT_WS_PING_INTERVAL_MS, startWsHeartbeat } from '../server/http/ws-heartbeat.js';
import { Accounts } from './accounts.js';
import { createCloudApp } from './app.js';
import { type AuthLimits, AuthService, type AuthTimings, DEFAULT_AUTH_LIMITS, DEFAULT_AUTH_TIMINGS } from './auth-service.js';
import { type CloudBlobLimits, CloudBlobStore, DEFAULT_CLOUD_BLOB_LIMITS } from './blob-store.js';
import { createBlobUploads } from './blob-uploads.js';
import { type CloudBus, InProcessBus, NatsBus } from './bus.js';
import { type ContactLimits, Contacts, DEFAULT_CONTACT_LIMITS } from './contacts.js';
import { type CloudStore, openCloudStore } from './db/cloud-store.js';
import { CLOUD_DATABASE_BACKUP_BASE, CLOUD_DATABASE_FILE } from './db/open.js';
import type { SqlQuery } from './db/sql.js';
import { ExternalLogins } from './external-login.js';
import { OIDC_CALLBACK_PATH } from './external-login-routes.js';
import { type CloudSecretsResetReport, cloudKeyDependents, dependsOnKey, resetCloudSecrets } from './key-dependents.js';
import { KeyDirectory } from './key-directory.js';
import { KeyLog } from './key-log.js';
import { createCloudLogger, type Logger } from './log.js';
import { OidcLogin, type OidcProviderConfig } from './oidc-login.js';
import { LogOtpSender, type OtpSender } from './otp-sender.js';
import { Passkeys, relyingPartyOf } from './passkeys.js';
import { CloudPrekeyDirectory } from './prekey-directory.js';
import { RelayHub, TOKEN_RECHECK_MS } from './relay-hub.js';
import { MAX_RELAY_FRAME_BYTES } from './relay-socket.js';
import { RelayStore } from './relay-store.js';
import { RelayWriter } from './relay-writer.js';
import { CLOUD_KEY_FILE, loadOrCreateStaticKey } from './static-key.js';
import { Telemetry } from './telemetry.js';

export interface CloudOptions {
  dataDir: string;
  /** 0 = any free port. */
  port: number;
  host?: string;
  otpSender?: OtpSender;
  timings?: Partial<AuthTimings>;
  /** Login rate limits, lockout and table caps (default DEFAULT_AUTH_LIMITS). */
  limits?: Partial<AuthLimits>;
  /** Where the cloud logs (default: a pino logger on stdout, createCloudLogger()). */
  logger?: Logger;
  /** Tests: each log line's message (with an error's stack) goes here instead of stdout. */
  log?: (msg: string) => void;
  /** Process metrics (CPU, memory, event loop) in /metrics too; off in tests. */
  defaultMetrics?: boolean;
  /** How often relay sockets re-check their token (default TOKEN_RECHECK_MS). */
  tokenRecheckMs?: number;
  /** Most rows one node's relay queue may hold (RELAY_QUEUE_CAP; tests shrink it). */
  relayQueueCap?: number;
  /** `--reset-secrets`: cloud.key was lost; revoke every token instead of refusing to start without it. */
  resetSecrets?: boolean;
  /** The clock of the daily backup (tests move it). */
  backupClock?: () => number;
  /** Most devices one node may publish (default MAX_PUBLISHED_PER_NODE); tests lower it. */
  maxPublishedPerNode?: number;
  /** How often every relay/noise socket is pinged; one that missed the previous pong is closed (default 30 s). */
  wsPingIntervalMs?: number;
  /** Invites' lifetime and the caps on invites and contacts (default DEFAULT_CONTACT_LIMITS). */
  contactLimits?: Partial<ContactLimits>;
  /** The blob store's limits and times (default DEFAULT_CLOUD_BLOB_LIMITS). */
  blobLimits?: Partial<CloudBlobLimits>;
  /** The blob store's clock (tests move it to expire uploads and blobs). */
  blobClock?: () => number;
  /** Free bytes on the disk of the blobs folder (tests make a full disk). */
  freeBytes?: (dir: string) => number;
  /**
   * The origin people's browsers reach this cloud at (https://cloud.example.org): the external login page,
   * the passkeys' relying party and the OpenID callback live there. Default http://localhost:<port>.
   */
  publicUrl?: string;
  /** An OpenID Connect provider for "Sign in with <name>" (none: only passkeys). */
  oidc?: OidcProviderConfig;
  /** How long an external login session waits for the browser (default 5 minutes; tests shorten it). */
  externalSessionTtlMs?: number;
  /** The external login's clock (tests move it). */
  externalClock?: () => number;
  /** This instance's name, as the `instance` label of its metrics (several instances behind one load balancer). */
  instance?: string;
  /**
   * `postgres://…`: every table in PostgreSQL, shared with the other instances of this cloud (absent: the SQLite
   * file in dataDir, one instance). The data dir still holds cloud.key and the blobs: share it between instances.
   */
  database?: string;
  /** `nats://…`: the bus between the instances (absent: none, one instance). */
  bus?: string;
  /** With a bus: how often every relay socket looks at its queue without a message (RELAY_SWEEP_MS). */
  relaySweepMs?: number;
}

export interface RunningCloud {
  port: number;
  url: string;
  /** The cloud's static X25519 public key (what IK clients pin). */
  publicKey: Uint8Array;
  auth: AuthService;
  telemetry: Telemetry;
  directory: KeyDirectory;
  /** Accounts and households (the operator's view; tests put made-up nodes in a household). */
  accounts: Accounts;
  relay: RelayHub;
  blobs: CloudBlobStore;
  /** The key directory's log (the operator's view; tests play a cloud that forges entries with it). */
  keyLog: KeyLog;
  /** External login sessions (passkeys, the OpenID provider). */
  logins: ExternalLogins;
  /**
   * Graceful drain (SIGTERM behind a load balancer): /readyz answers 503 at once, new relay and handshake sockets
   * are refused with 503 draining, every relay socket is closed with 1012 so its node reconnects to another
   * instance; then `graceMs` for requests under way. Call stop() after it. Resolves with the sockets moved.
   */
  drain(graceMs?: number): Promise<number>;
  /** Which store this instance uses, and its bus: `SQLite <file>` / `PostgreSQL <host>/<db>, bus nats`. */
  store: string;
  /** Set when this start ran with resetSecrets: what was revoked. */
  secretsReset?: CloudSecretsResetReport;
  stop(): Promise<void>;
}

/**
 * Above the relay's own frame limit, so an oversized relay frame still gets an `error` frame and the socket
 * stays up; only a frame past this is cut off by ws (close 1009).
 */
export const WS_MAX_PAYLOAD = 4 * MAX_RELAY_FRAME_BYTES;

export async function startCloud(opts: CloudOptions): Promise<RunningCloud> {
  const log = opts.logger ?? createCloudLogger(opts.log ? { lines: opts.log } : {});
  const host = opts.host ?? '127.0.0.1';
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const instance = opts.instance ?? `${hostname()}:${process.pid}`;
  const database: CloudStore = await openCloudStore({
    dataDir: opts.dataDir,
    database: opts.database,
    log: (m, err) => log.warn({ err }, m),
    ...(opts.backupClock ? { now: opts.backupClock } : {}),
  });
  const { sql } = database;
  let staticKey: ReturnType<typeof loadOrCreateStaticKey>;
  let secretsReset: CloudSecretsResetReport | undefined;
  let bus: CloudBus;
  try {
    const dependents = await cloudKeyDependents(sql);
    const keyMissing = !existsSync(join(opts.dataDir, CLOUD_KEY_FILE));
    staticKey = loadOrCreateStaticKey(
      opts.dataDir,
      dependsOnKey(dependents) && !opts.resetSecrets
        ? `${dependents.nodes} node(s) logged in with it (${dependents.liveTokens} live token(s), ${dependents.directoryDevices} published device(s) in ${CLOUD_DATABASE_FILE})`
        : undefined,
    );
    // Resetting with the key still in place changes nothing the nodes see, but the tokens go all the same: the
    // operator asked for it (a key that may have leaked).
    if (opts.resetSecrets) {
      secretsReset = await resetCloudSecrets(sql);
      log.warn(
        `--reset-secrets: revoked ${secretsReset.tokensRevoked} token(s); ${keyMissing ? `a new ${CLOUD_KEY_FILE} was made, so ` : ''}` +
          `${secretsReset.nodes} node(s) that pinned the old key ${keyMissing ? 'will report cloud_key_changed until their owner accepts the new key and logs in again' : 'must log in again'}`,
      );
    }
    bus = opts.bus ? await NatsBus.connect(opts.bus, `salita-cloud ${instance}`) : new InProcessBus();
  } catch (err) {
    await database.close();
    throw err;
  }
  const telemetry = new Telemetry({ defaultMetrics: opts.defaultMetrics ?? false, ...(opts.instance ? { instance: opts.instance } : {}) });
  const accounts = new Accounts(sql);
  const auth = new AuthService(
    sql,
    telemetry,
    opts.otpSender ?? new LogOtpSender((line) => log.info(line)),
    { ...DEFAULT_AUTH_TIMINGS, ...opts.timings },
    Date.now,
    { ...DEFAULT_AUTH_LIMITS, ...opts.limits },
    accounts,
  );
  const mayReach = (from: string, to: string, q?: SqlQuery) => accounts.canSee(from, to, q);
  const pruneLogins = () => auth.prune().catch((err: unknown) => log.error({ err }, 'auth: prune failed'));
  await pruneLogins();
  // Expired challenges and handshakes also go whenever a new one is stored; this catches a quiet cloud.
  const loginPrune = setInterval(pruneLogins, 60_000);
  loginPrune.unref();
  const keyLog = new KeyLog(sql, staticKey);
  const backfilled = await keyLog.backfill();
  if (backfilled > 0) log.info(`key log: ${backfilled} device(s) published before the log existed were appended`);
  const directory = new KeyDirectory(sql, keyLog, Date.now, opts.maxPublishedPerNode);
  const store = new RelayStore(sql, directory, mayReach, Date.now, opts.relayQueueCap);
  await store.pruneDelivered();
  const hub = new RelayHub(store, auth, log, {
    sql,
    bus,
    instance,
    tokenRecheckMs: opts.tokenRecheckMs ?? TOKEN_RECHECK_MS,
    ...(opts.relaySweepMs !== undefined ? { sweepMs: opts.relaySweepMs } : {}),
  });
  // Forgetting delivered ids is housekeeping; twice a day is plenty for a 7-day memory.
  const prune = setInterval(
    () => void store.pruneDelivered().catch((err: unknown) => log.error({ err }, 'relay: prune failed')),
    12 * 60 * 60_000,
  );
  prune.unref();
  // The SQLite file gets a daily copy; PostgreSQL's backups are the operator's (pg_dump, WAL archiving).
  let backupTimer: NodeJS.Timeout | undefined;
  if (database.sqlite) {
    const dailyBackup = new DailyBackup({
      sqlite: database.sqlite,
      dir: backupsDir(opts.dataDir),
      base: CLOUD_DATABASE_BACKUP_BASE,
      ...(opts.backupClock ? { now: opts.backupClock } : {}),
      log: (m, err) => log.error({ err }, m),
    });
    dailyBackup.tick();
    // At most one a day; the hourly look keeps that true for a cloud that runs for weeks.
    backupTimer = setInterval(() => dailyBackup.tick(), 60 * 60_000);
    backupTimer.unref();
  }
  const writer = new RelayWriter(sql, store, (touched) => hub.pumpSoon(touched));
  const blobStore = new CloudBlobStore({
    sql,
    dataDir: opts.dataDir,
    limits: { ...DEFAULT_CLOUD_BLOB_LIMITS, ...opts.blobLimits },
    log,
    ...(opts.blobClock ? { now: opts.blobClock } : {}),
    ...(opts.freeBytes ? { freeBytes: opts.freeBytes } : {}),
    mayReach,
  });
  // A recipient node on the relay hears of a blob at once; one that is not finds it in /api/blobs/incoming.
  blobStore.onReady((nodes, sha256) => {
    for (const node of nodes) hub.notify(node, { type: 'blob_ready', sha256 });
  });
  await blobStore.start();
  // The tus server is made at the first upload: its file store starts an mkdir of its own in the background,
  // which must not outlive a cloud that never saw an upload (or throw after its data dir is gone).
  let tus: ReturnType<typeof createBlobUploads> | undefined;
  const blobs = {
    store: blobStore,
    get tus() {
      tus ??= createBlobUploads(blobStore, log);
      return tus;
    },
  };
  /** SIGTERM: /readyz says 503, new relay and handshake sockets are refused, live relay sockets are moved off. */
  let draining = false;
  // The public origin is known once the cloud listens (port 0): the parts read it when they need it.
  let listenedPort = opts.port;
  const origin = () => (opts.publicUrl ? new URL(opts.publicUrl).origin : `http://localhost:${listenedPort}`);
  const oidcRedirectUri = () => `${origin()}${OIDC_CALLBACK_PATH}`;
  const logins = new ExternalLogins({
    sql,
    bus,
    auth,
    accounts,
    telemetry,
    passkeys: new Passkeys(sql, () => relyingPartyOf(origin()), opts.externalClock),
    oidc: opts.oidc ? new OidcLogin(opts.oidc, oidcRedirectUri) : null,
    origin,
    ...(opts.externalSessionTtlMs !== undefined ? { ttlMs: opts.externalSessionTtlMs } : {}),
    ...(opts.externalClock ? { now: opts.externalClock } : {}),
  });
  logins.start();
  // Client mistakes are written rate-limited, at the level LogBudget gives them.
  const edgeLog = new LogBudget((level, msg, fields) => log[level](fields ?? {}, msg));
  const app = createCloudApp({
    auth,
    accounts,
    contacts: new Contacts(sql, accounts, { ...DEFAULT_CONTACT_LIMITS, ...opts.contactLimits }),
    telemetry,
    staticKey,
    directory,
    keyLog,
    prekeys: new CloudPrekeyDirectory(sql),
    relay: { hub, writer },
    log,
    edgeLog,
    blobs,
    logins,
    oidcRedirectUri,
    readiness: {
      draining: () => draining,
      checkDatabase: async () => {
        await sql.get('SELECT 1 AS ok');
      },
      bus: () => (bus.kind === 'none' ? 'none' : bus.ready() ? 'ok' : 'down'),
    },
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD });
  const server = createAdaptorServer({ fetch: app.fetch as never, websocket: { server: wss } }) as Server;
  guardUpgradeHandshakes(server);
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
    logins.stop();
    blobStore.stop();
    stopHeartbeat();
    clearInterval(prune);
    clearInterval(loginPrune);
    clearInterval(backupTimer);
    wss.close();
    await bus.close();
    await database.close();
    throw err;
  }
  listenedPort = port;
  // After listening, so a taken port still fails the start.
  guardServer(server, edgeLog);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${urlHost}:${port}`,
    publicKey: staticKey.publicKey,
    auth,
    telemetry,
    directory,
    accounts,
    relay: hub,
    blobs: blobStore,
    keyLog,
    logins,
    drain: async (graceMs = 1_000) => {
      draining = true;
      const moved = hub.closeAll();
      log.info(`draining: /readyz says 503; ${moved} relay socket(s) told to reconnect elsewhere`);
      await new Promise((r) => setTimeout(r, graceMs));
      return moved;
    },
    store: `${database.describe}${bus.kind === 'none' ? '' : `, bus ${bus.kind}`}`,
    ...(secretsReset ? { secretsReset } : {}),
    stop: async () => {
      hub.stop();
      logins.stop();
      blobStore.stop();
      stopHeartbeat();
      clearInterval(prune);
      clearInterval(loginPrune);
      clearInterval(backupTimer);
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      // Writes under way (a group commit, a blob's rows) end before the store closes under them.
      await bus.close();
      await database.close();
    },
  };
}
