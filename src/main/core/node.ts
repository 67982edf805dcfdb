// The composition root: opens the identity and database, wires the services, starts the HTTP/WS server,
// discovery and the presence timers, and knows how to stop all of it. Used by the Electron shell, by the
// headless CLI and by tests (which start several nodes in one process on port 0).
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { toBase64Url } from '../../shared/encoding.js';
import type { AdminState, DesktopNode, DiagnosticsResponse, DiscoveredNodeView, NodeIdentityResponse, SettingsUpdateRequest } from '../../shared/wire/schemas.js';
import { DEFAULT_LIMITS, DEFAULT_PORT, DEFAULT_TIMINGS, type NodeLimits, type NodeTimings } from './config.js';
import { MeshRepository } from './db/mesh-repository.js';
import { DATABASE_BACKUP_BASE, openDatabase } from './db/open-database.js';
import { PairingCodeRepository } from './db/pairing-code-repository.js';
import { PeerLinkRepository } from './db/peer-link-repository.js';
import { NonceRepository } from './db/nonce-repository.js';
import { SessionRepository } from './db/session-repository.js';
import { DeviceSockets } from './http/device-sockets.js';
import { MessageStore, type DevicePush, type MessageStoreCaps } from './messaging/message-store.js';
import { CloudTransport } from './routing/cloud-transport.js';
import { Router } from './routing/router.js';
import type { SecretBox } from './secrets/secret-box.js';
import { openCheckedSecretBox, type SecretsResetReport } from './secrets/sealed-secrets.js';
import { backupsDir, DailyBackup } from '../../server/db/sqlite-backup.js';
import { CloudLink, type CloudLinkOptions } from './cloud/cloud-link.js';
import { ChangeFeed } from './events/change-feed.js';
import { createApp } from './http/app.js';
import { listen } from './http/listen.js';
import type { NodeCore } from './http/node-core.js';
import { loadOrCreateIdentity, renameIdentity, type NodeIdentity } from './identity/identity-store.js';
import { createLogger } from './log.js';
import { MeshService } from './mesh/mesh-service.js';
import { presenceOf } from './mesh/mesh-views.js';
import { cachedInterfaces, hostForUrl, LocalAddresses, takeInterfaceError, type InterfaceTable } from './net/lan-addresses.js';
import { LogBudget } from '../../server/http/log-budget.js';
import { checkReachability, firewallHints, listenAddresses } from './net/diagnostics.js';
import { NoticeBoard } from './events/notices.js';
import { SettingsStore } from './settings/settings-store.js';
import { PairingService } from './pairing/pairing-service.js';
import { appRoot, appVersion } from '../../server/app-root.js';
import { normalizeFingerprint } from '../../shared/fingerprint.js';
import { HomeDeviceRepository } from './db/home-device-repository.js';
import { UnpairNoticeRepository } from './db/unpair-notice-repository.js';
import { HomeDirectoryStore } from './peer-link/home-directory.js';
import { PairingCredentialsLookup } from './peer-link/pairing-credentials.js';
import { PeerLinkService, type PeerLinkOptions } from './peer-link/peer-link-service.js';
import { UNROUTED_PORT } from './peer-link/unrouted-port.js';
import type { PeerLinkRouterPort } from './routing/ports.js';

export const CAPABILITIES = ['mesh', 'pairing', 'relay'];

export interface NodeOptions {
  dataDir: string;
  /** Default 6969; 0 picks any free port. */
  port?: number;
  /** Listen address; default all interfaces (the phone reaches us over the LAN). */
  host?: string;
  /** Fail instead of taking the next free port when `port` is taken. */
  strictPort?: boolean;
  /** Advertise and browse with mDNS. Off unless asked: tests must never multicast on a real network. */
  mdns?: boolean;
  /** Built renderer directory (desktop UI + phone page); default out/renderer under the app root. */
  rendererDir?: string;
  timings?: Partial<NodeTimings>;
  /** Caps on sockets, pairing codes, session rows and request rates (tests and benches raise some). */
  limits?: Partial<NodeLimits>;
  /** Fixed admin token (tests); default: a fresh random one per launch. */
  adminToken?: string;
  /** Seals secrets at rest. Electron passes one backed by safeStorage; default: a 0600 key file in dataDir. */
  secretBox?: SecretBox;
  /** The interface table to use instead of os.networkInterfaces() (tests make up interfaces). */
  networkInterfaces?: () => InterfaceTable;
  /** A discovery object to use instead of mDNS (tests: a fake that emits 'peer-addresses' / 'goodbye'). */
  discovery?: Discovery;
  /** Cloud link tuning (tests shrink the reconnect backoff and the directory refresh). */
  cloud?: Partial<CloudLinkOptions>;
  /** Message store bounds (inbox and outbox caps per device; tests shrink them). */
  messaging?: Partial<MessageStoreCaps>;
  /** `--reset-secrets`: revoke everything the storage key sealed (device sessions, peer links, cloud token). */
  resetSecrets?: boolean;
  /** `--new-database`: start on an empty database although this data dir has an identity (its database was lost). */
  allowNewDatabase?: boolean;
  /** The clock of the daily backup (tests move it). */
  backupClock?: () => number;
  /** Peer link tuning (tests shrink the reconnect backoff and the timeouts). */
  peerLink?: Partial<PeerLinkOptions>;
  /** Tests: the router port the peer links use instead of the node's router (a fake that records calls). */
  peerLinkRouter?: PeerLinkRouterPort;
}

export interface SalitaNode {
  readonly port: number;
  readonly adminToken: string;
  readonly adminUrl: string;
  readonly dataDir: string;
  identity: { node_id: string; name: string; fingerprint: string; public_key: string };
  core: NodeCore;
  /** Set when this start ran with resetSecrets: what was revoked. */
  secretsReset?: SecretsResetReport;
  stop(): Promise<void>;
}

/** What the mDNS module reports about itself (diagnostics). */
export interface DiscoveryStatus {
  running: boolean;
  instance_name?: string;
  advertised_addresses: string[];
  discovered: number;
  last_error?: string;
}

/**
 * The slice of the mDNS module the node uses; see discovery/mdns-discovery.ts. The optional members are used
 * when the module has them: the addresses to advertise, its status, and what it hears about paired nodes.
 */
export interface Discovery {
  start(): Promise<void>;
  stop(): Promise<void>;
  peers(): { node_id: string; name: string; fingerprint: string; host: string; port: number; addresses: string[]; version: string }[];
  rename(name: string): Promise<void>;
  setAddresses?(addresses: string[]): unknown;
  status?(): DiscoveryStatus;
  on(event: 'change', fn: () => void): unknown;
  on(event: 'peer-addresses', fn: (nodeId: string, addresses: string[]) => void): unknown;
  on(event: 'goodbye', fn: (nodeId: string) => void): unknown;
  on(event: 'interfaces', fn: () => void): unknown;
}

export async function startNode(opts: NodeOptions): Promise<SalitaNode> {
  const log = createLogger('node');
  const httpLog = createLogger('http');
  const edgeLog = new LogBudget((level, msg, fields) => httpLog[level](fields ?? {}, msg));
  // Nothing in a timer may take the process down (e.g. EMFILE while out of file descriptors): log, rate-limited,
  // and let the next tick try again.
  const guarded = (what: string, fn: () => void) => () => {
    try {
      fn();
    } catch (err) {
      edgeLog.write(`timer:${what}`, 'warn', `${what} failed; retrying on the next tick`, { err: (err as Error).message, code: (err as NodeJS.ErrnoException).code });
    }
  };
  const timings: NodeTimings = { ...DEFAULT_TIMINGS, ...opts.timings };
  const limits: NodeLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  // Read before anything else is opened: a corrupt settings file stops the start with an error naming it.
  const settings = new SettingsStore(opts.dataDir);
  const { identity: loaded, created } = loadOrCreateIdentity(opts.dataDir);
  let identity: NodeIdentity = loaded;
  log.info({ node_id: identity.nodeId, created, data_dir: opts.dataDir }, created ? 'created a new node identity' : 'loaded node identity');

  const dbLog = createLogger('db');
  const database = openDatabase(opts.dataDir, {
    identityExisted: !created, allowNewDatabase: opts.allowNewDatabase ?? false,
    log: (msg, err) => dbLog.error({ err }, msg), ...(opts.backupClock ? { now: opts.backupClock } : {}),
  });
  let box: SecretBox;
  let secretsReset: SecretsResetReport | undefined;
  try {
    ({ box, reset: secretsReset } = openCheckedSecretBox({ dataDir: opts.dataDir, sqlite: database.sqlite, ...(opts.secretBox ? { given: opts.secretBox } : {}), reset: opts.resetSecrets ?? false }));
  } catch (err) {
    database.close();
    throw err;
  }
  if (secretsReset) log.warn({ ...secretsReset }, 'storage secrets reset: every device session revoked, peer links and the cloud token dropped');
  const dailyBackup = new DailyBackup({
    sqlite: database.sqlite, dir: backupsDir(opts.dataDir), base: DATABASE_BACKUP_BASE,
    ...(opts.backupClock ? { now: opts.backupClock } : {}), log: (msg, err) => dbLog.error({ err }, msg),
  });
  dailyBackup.tick();
  const deviceSockets = new DeviceSockets(limits.maxSocketsPerSession);
  const meshRepo = new MeshRepository(database.db);
  // Late-bound: the peer links start after the listener, but a revocation must reach them at once.
  let peerLinks: PeerLinkService | undefined;
  const sessionsRepo = new SessionRepository(database.db, box, (ids) => {
    deviceSockets.closeSessions(ids);
    peerLinks?.sessionsRevoked();
  });
  const nonces = new NonceRepository(database.db);
  const links = new PeerLinkRepository(database.db, box);
  const feed = new ChangeFeed();
  const notices = new NoticeBoard(feed);
  const mesh = new MeshService(meshRepo, sessionsRepo, links, feed, createLogger('mesh'), {
    offlineAfterMs: timings.offlineAfterMs, notices, beforeDesktopUnpair: (nodeId) => peerLinks?.unpairing(nodeId),
  });
  const homeDirectory = new HomeDirectoryStore(new HomeDeviceRepository(database.db), meshRepo, (nodeId) => peerLinks?.isUp(nodeId) ?? false);
  // Messaging: the durable outbox/inbox (the cloud link, wired elsewhere, uses it as its MessageStorePort).
  const messaging = new MessageStore({
    sqlite: database.sqlite,
    nodeId: () => identity.nodeId,
    nodeName: () => identity.name,
    sendToDevice: (deviceId, frame) => deviceSockets.sendToDevice(deviceId, frame),
    // The desktop UI's device pushes ride the admin event socket, which forwards every non-'changed' feed event.
    sendToUi: (frame: DevicePush) => feed.emit(frame),
    subscribeChanges: (fn) => feed.subscribe((e) => { if (e.type === 'changed') fn(); }),
    log: createLogger('messaging'),
    caps: opts.messaging,
  });
  // The cloud link (cloud/cloud-link.ts): login, relay WebSocket, key directory; it drains `messaging`'s outbox.
  const cloud = new CloudLink({
    dataDir: opts.dataDir, box, store: messaging, log: createLogger('cloud'), options: opts.cloud,
    staticKey: () => ({ privateKey: identity.privateKey, publicKey: identity.publicKey }),
    settings: { cloudUrl: () => settings.cloudUrl(), setCloudUrl: (url) => { settings.set({ cloud_url: url }); } },
    onChange: (view) => feed.emit({ type: 'cloud', cloud: view }),
  });
  // The router: local delivery, the peer links (attached by the peer-link service: router.attachPeerLinks) and
  // the cloud behind one interface; the message routes send through it.
  const router = new Router({
    store: messaging, sqlite: database.sqlite, log: createLogger('router'), fallbackAfterMs: timings.homeFallbackMs,
    nodeId: () => identity.nodeId, nodeName: () => identity.name,
    subscribeChanges: (fn) => feed.subscribe((e) => { if (e.type === 'changed') fn(); }),
    cloud: new CloudTransport({
      status: () => cloud.status(), configured: () => cloud.configured(), knows: (id) => messaging.remoteKnows(id),
      subscribe: (fn) => feed.subscribe((e) => { if (e.type === 'cloud') fn(); }), wake: () => messaging.notifyCloudQueued(),
    }),
  });
  const adminToken = opts.adminToken ?? toBase64Url(randomBytes(32));
  const defaultRenderer = join(appRoot(), 'out', 'renderer');
  const rendererDir = opts.rendererDir ?? (existsSync(defaultRenderer) ? defaultRenderer : undefined);
  const version = appVersion();
  let port = 0;
  let discovery: Discovery | undefined;
  let mdnsError: string | undefined;
  // The listen setting applies at start: 'advertised' binds loopback (the desktop UI) plus the advertised
  // addresses of this moment; an explicit host (--host, tests) always wins.
  const listenSetting = settings.listen();
  const listenChosen = opts.host === undefined && listenSetting === 'advertised';
  const listenHost = opts.host ?? (listenChosen ? '127.0.0.1' : '0.0.0.0');
  let listenHosts: string[] = [listenHost];

  const publicKey = toBase64Url(identity.publicKey);
  const interfaceTable = opts.networkInterfaces ?? (() => cachedInterfaces());
  const local = new LocalAddresses(() => settings.interfaces(), interfaceTable);
  /** What this node offers to other devices: QR candidate URLs, mDNS, heartbeats, its desktop_node. */
  const ownAddresses = () => local.advertised();
  const addressUrls = () => ownAddresses().map((a) => `http://${hostForUrl(a)}:${port}`);
  const desktopNode = (): DesktopNode => ({
    node_id: identity.nodeId, name: identity.name, hostname: osHostname(), port,
    capabilities: CAPABILITIES, public_key: publicKey, fingerprint: identity.fingerprint, addresses: ownAddresses(),
  });
  const identityView = (): NodeIdentityResponse => ({
    node_id: identity.nodeId, name: identity.name, public_key: publicKey, fingerprint: identity.fingerprint,
    capabilities: CAPABILITIES, version,
  });
  const discovered = (): DiscoveredNodeView[] => (discovery?.peers() ?? []).map((p) => ({
    ...p, paired: mesh.isPaired(p.node_id),
  }));

  // A pairing URL must name an address this node accepts connections on: listening on every interface, any
  // of them; on chosen addresses (--host, listen 'advertised'), only those bound, else the bound host itself.
  const listenedOf = (addrs: string[]): string[] => {
    if (!listenChosen && (listenHost === '0.0.0.0' || listenHost === '::')) return addrs;
    const bound = addrs.filter((a) => listenHosts.includes(a));
    return bound.length > 0 ? bound : [...listenHosts];
  };
  const pairing = new PairingService(new PairingCodeRepository(database.db), meshRepo, sessionsRepo,
    {
      self: desktopNode, port: () => port, staticKey: () => ({ privateKey: identity.privateKey, publicKey: identity.publicKey }),
      advertisedAddresses: () => listenedOf(ownAddresses()),
      lanAddresses: () => listenedOf(local.lan().map((a) => a.address)),
      replaceStale: (candidate, keep) => mesh.replaceStale(candidate, keep),
    },
    timings, createLogger('pairing'), limits);

  const core: NodeCore = {
    adminToken, rendererDir, timings, limits, log, edgeLog, feed, pairing, mesh, sessionsRepo, nonces, deviceSockets,
    messaging,
    router,
    cloud,
    identityView,
    desktopNode,
    pairingIdentity: () => ({
      privateKey: identity.privateKey,
      publicKey: identity.publicKey,
      payload: {
        node_id: identity.nodeId, name: identity.name, capabilities: CAPABILITIES,
        device_info: { platform: process.platform, app_version: version, hostname: osHostname() },
        public_key: publicKey, port, addresses: ownAddresses(),
      },
    }),
    adminState: (): AdminState => ({
      identity: identityView(), port, devices: mesh.devices(), discovered: discovered(), lan_addresses: local.lan(),
      pending_pairings: [...pairing.pending.list(), ...mesh.pendingOutgoing()], notices: notices.list(),
    }),
    notices,
    settings: () => settings.get(),
    updateSettings: (update: SettingsUpdateRequest) => {
      const saved = settings.set(update);
      if (update.cloud_url !== undefined) cloud.settingsChanged();
      log.info({ interfaces: saved.interfaces }, 'interface settings changed');
      applyAddresses(true);
      return saved;
    },
    addressUrls,
    diagnostics: async (): Promise<DiagnosticsResponse> => {
      const interfaces = local.all();
      const advertised = ownAddresses();
      const status = discovery?.status?.();
      const now = Date.now();
      return {
        interfaces: interfaces.map((a) => ({ name: a.interface, address: a.address, family: a.family, kind: a.kind, advertised: a.advertised })),
        missing_interfaces: local.missingInterfaces(),
        port,
        listen: {
          host: listenChosen ? listenHosts.join(', ') : listenHost,
          addresses: listenChosen ? listenHosts : listenAddresses(listenHost, interfaces),
          pending_restart: settings.listen() !== listenSetting,
        },
        reachability: await checkReachability(advertised, port, identity.nodeId),
        mdns: {
          enabled: discovery !== undefined || opts.mdns === true,
          running: status?.running ?? discovery !== undefined,
          ...(status?.instance_name !== undefined ? { instance_name: status.instance_name } : {}),
          advertised_addresses: status?.advertised_addresses ?? (discovery ? advertised : []),
          discovered: status?.discovered ?? discovery?.peers().length ?? 0,
          ...((status?.last_error ?? mdnsError) !== undefined ? { last_error: (status?.last_error ?? mdnsError)! } : {}),
        },
        peers: mesh.peerRows().map((row) => {
          const round = mesh.lastHeartbeatRound(row.id);
          return {
            node_id: row.id, name: row.name, status: meshNodeViewStatus(row, now), last_seen: row.lastSeen, addresses: row.addresses,
            ...(round ? { last_attempt: { at: round.at, tried: round.tried.map((t) => ({ ...t })) } } : {}),
          };
        }),
        firewall_hints: firewallHints(port),
      };
    },
    rename: (name: string) => {
      identity = renameIdentity(opts.dataDir, identity, name);
      meshRepo.upsertSelf({ ...selfRow(), name: identity.name });
      void discovery?.rename(identity.name).catch((err: Error) => log.warn({ err: err.message }, 'mDNS rename failed'));
      node.identity = { ...node.identity, name: identity.name };
      peerLinks?.renamed(identity.name);
      feed.changed();
    },
  };
  const selfRow = () => ({
    id: identity.nodeId, name: identity.name, hostname: osHostname(), port, capabilities: CAPABILITIES,
    publicKey, addresses: ownAddresses(),
  });

  const meshNodeViewStatus = (row: Parameters<typeof presenceOf>[0], now: number) => presenceOf(row, timings.offlineAfterMs, now);

  /** Pushes the advertised addresses to mDNS and the UI when they changed (or when forced: settings changed). */
  let lastAdvertised = '';
  const applyAddresses = (force = false) => {
    const now = ownAddresses();
    const key = JSON.stringify(now);
    if (!force && key === lastAdvertised) return;
    lastAdvertised = key;
    try {
      void Promise.resolve(discovery?.setAddresses?.(now)).catch((err: Error) => log.warn({ err: err.message }, 'mDNS could not take the new addresses'));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'mDNS could not take the new addresses');
    }
    if (port !== 0) meshRepo.upsertSelf(selfRow());
    feed.changed();
  };

  const app = createApp(core);
  let listening;
  try {
    listening = await listen(app.fetch as never, {
      port: opts.port ?? DEFAULT_PORT, host: listenHost, strictPort: opts.strictPort ?? false, edgeLog, wsPingIntervalMs: timings.wsPingIntervalMs,
      ...(listenChosen ? { extraHosts: ownAddresses() } : {}),
    });
  } catch (err) {
    database.close();
    throw err;
  }
  port = listening.port;
  listenHosts = listening.hosts;
  for (const f of listening.failed) log.warn({ host: f.host, err: f.error }, 'could not listen on a chosen address');
  if (opts.port !== undefined && opts.port !== 0 && port !== opts.port) {
    log.warn({ wanted: opts.port, port }, `port ${opts.port} was taken; listening on ${port} instead`);
  }
  meshRepo.upsertSelf(selfRow());
  lastAdvertised = JSON.stringify(ownAddresses());
  cloud.start();
  router.start();

  // The links to paired desktops: after the listener (a peer may dial back at once), stopped before the database.
  peerLinks = new PeerLinkService({
    self: () => ({ nodeId: identity.nodeId, name: identity.name, privateKey: identity.privateKey, publicKey: identity.publicKey }),
    mesh: meshRepo, sessions: sessionsRepo, links, credentials: new PairingCredentialsLookup(database.db, meshRepo, sessionsRepo, links),
    notices: new UnpairNoticeRepository(database.db, box), directory: homeDirectory, router: opts.peerLinkRouter ?? router,
    feed, noticeBoard: notices, log: createLogger('peer-link'), ...(opts.peerLink ? { options: opts.peerLink } : {}),
  });
  core.peerLinks = peerLinks;
  router.attachPeerLinks(peerLinks, homeDirectory);
  peerLinks.start();

  if (opts.mdns || opts.discovery) {
    try {
      if (opts.discovery) {
        discovery = opts.discovery;
      } else {
        const { MdnsDiscovery } = await import('./discovery/mdns-discovery.js');
        discovery = new MdnsDiscovery({
          self: { node_id: identity.nodeId, name: identity.name, fingerprint: normalizeFingerprint(identity.fingerprint)!, port, version },
          logger: createLogger('mdns'),
          addresses: ownAddresses(),
        } as ConstructorParameters<typeof MdnsDiscovery>[0]) as unknown as Discovery;
      }
      const d = discovery;
      d.on('change', () => feed.changed());
      // What mDNS hears about paired nodes: their addresses join the others; a goodbye shows them offline at once.
      d.on('peer-addresses', (nodeId: string, addresses: string[]) => {
        if (typeof nodeId === 'string' && Array.isArray(addresses)) mesh.learnAddresses(nodeId, addresses.filter((a) => typeof a === 'string'));
      });
      d.on('goodbye', (nodeId: string) => {
        if (typeof nodeId === 'string') mesh.goodbye(nodeId);
      });
      // The module noticed an interface change before our own poll did.
      d.on('interfaces', () => applyAddresses());
      await d.setAddresses?.(ownAddresses());
      await d.start();
    } catch (err) {
      mdnsError = (err as Error).message;
      log.error({ err: mdnsError }, 'mDNS discovery could not start; pairing by URL still works');
      discovery = undefined;
    }
  }

  const timers = [
    setInterval(guarded('presence sweep', () => mesh.sweepPresence(timings.offlineAfterMs)), Math.max(100, Math.min(10_000, timings.offlineAfterMs / 6))),
    // Interfaces come and go (Wi-Fi roams, a VPN starts): re-advertise when the advertised set changes.
    setInterval(guarded('interface check', () => {
      applyAddresses();
      const err = takeInterfaceError();
      if (err) throw err;
    }), 3_000),
    setInterval(guarded('nonce, pairing code and session prune', () => { nonces.prune(Date.now()); pairing.prune(); }), 60_000),
    // At most one backup a day; the hourly look keeps that true for a node that runs for weeks.
    setInterval(guarded('daily backup', () => dailyBackup.tick()), 60 * 60_000),
    setInterval(guarded('peer heartbeat', () => void mesh.heartbeatPeers(ownAddresses()).catch((err: Error) => log.warn({ err: err.message }, 'peer heartbeat round failed'))), timings.heartbeatIntervalMs),
  ];
  for (const t of timers) t.unref();

  let stopping: Promise<void> | undefined;
  const node: SalitaNode = {
    port,
    adminToken,
    adminUrl: `http://127.0.0.1:${port}/#admin=${adminToken}`,
    dataDir: opts.dataDir,
    identity: { node_id: identity.nodeId, name: identity.name, fingerprint: identity.fingerprint, public_key: publicKey },
    core,
    ...(secretsReset ? { secretsReset } : {}),
    stop: () => (stopping ??= (async () => {
      for (const t of timers) clearInterval(t);
      router.stop();
      await cloud.stop();
      mesh.stop();
      peerLinks?.stop();
      await discovery?.stop().catch((err: Error) => log.warn({ err: err.message }, 'mDNS stop failed'));
      await listening.close();
      messaging.close();
      database.close();
      log.info('node stopped');
    })()),
  };
  return node;
}
