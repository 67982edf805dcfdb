// The composition root: opens the identity and database, wires the services, starts the HTTP/WS server,
// discovery and the presence timers, and knows how to stop all of it. Used by the Electron shell, by the
// headless CLI and by tests (which start several nodes in one process on port 0).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { appRoot, appVersion } from '../../server/app-root.js';
import { backupsDir, DailyBackup } from '../../server/db/sqlite-backup.js';
import { LogBudget } from '../../server/http/log-budget.js';
import { toBase64Url } from '../../shared/encoding.js';
import { normalizeFingerprint } from '../../shared/fingerprint.js';
import type {
  AdminState,
  DesktopNode,
  DiagnosticsResponse,
  DiscoveredNodeView,
  NodeIdentityResponse,
  SettingsUpdateRequest,
} from '../../shared/wire/schemas.js';
import { removeAdminUrlFile, writeAdminUrlFile } from './admin-url-file.js';
import { CloudBlobTransport } from './cloud/cloud-blob-transport.js';
import { CloudLink, type CloudLinkOptions } from './cloud/cloud-link.js';
import { CloudPrekeys } from './cloud/cloud-prekeys.js';
import { DEFAULT_LIMITS, DEFAULT_PORT, DEFAULT_TIMINGS, type NodeLimits, type NodeTimings } from './config.js';
import { BlobRepository } from './db/blob-repository.js';
import { HomeDeviceRepository } from './db/home-device-repository.js';
import { MeshRepository } from './db/mesh-repository.js';
import { NonceRepository } from './db/nonce-repository.js';
import { DATABASE_BACKUP_BASE, openDatabase } from './db/open-database.js';
import { PairingCodeRepository } from './db/pairing-code-repository.js';
import { PeerLinkRepository } from './db/peer-link-repository.js';
import { PrekeyRepository } from './db/prekey-repository.js';
import { SessionRepository } from './db/session-repository.js';
import { UnpairNoticeRepository } from './db/unpair-notice-repository.js';
import type { Discovery } from './discovery/discovery.js';
import { DiscoveryService } from './discovery/discovery-service.js';
import { ChangeFeed } from './events/change-feed.js';
import { NoticeBoard } from './events/notices.js';
import { DEFAULT_FILE_LIMITS, type FileLimits } from './files/blob-store.js';
import { FileService } from './files/file-service.js';
import { createApp } from './http/app.js';
import { pushChangesToDevices } from './http/device-change-pushes.js';
import { DeviceSockets } from './http/device-sockets.js';
import { type Listening, listen } from './http/listen.js';
import type { NodeCore } from './http/node-core.js';
import { CurrentIdentity } from './identity/current-identity.js';
import { loadOrCreateIdentity } from './identity/identity-store.js';
import { createLogger } from './log.js';
import { MeshService } from './mesh/mesh-service.js';
import { presenceOf } from './mesh/mesh-views.js';
import { type DevicePush, MessageStore, type MessageStoreCaps } from './messaging/message-store.js';
import { AdvertisedAddresses } from './net/advertised-addresses.js';
import { checkReachability, firewallHints, listenAddresses } from './net/diagnostics.js';
import { cachedInterfaces, hostForUrl, type InterfaceTable, LocalAddresses, takeInterfaceError } from './net/lan-addresses.js';
import { acceptsOn, ReachableAddresses } from './net/reachable-addresses.js';
import { PairingService } from './pairing/pairing-service.js';
import { HomeDirectoryStore } from './peer-link/home-directory.js';
import { PairingCredentialsLookup } from './peer-link/pairing-credentials.js';
import { type PeerLinkOptions, PeerLinkService } from './peer-link/peer-link-service.js';
import type { CloudPrekeysPort } from './prekeys/cloud-prekeys-port.js';
import { PrekeyCloudMover } from './prekeys/prekey-cloud-mover.js';
import { PrekeyDirectory } from './prekeys/prekey-directory.js';
import { PrekeyStore } from './prekeys/prekey-store.js';
import { CloudTransport } from './routing/cloud-transport.js';
import type { PeerLinkRouterPort } from './routing/ports.js';
import { Router } from './routing/router.js';
import { openCheckedSecretBox, type SecretsResetReport } from './secrets/sealed-secrets.js';
import type { SecretBox } from './secrets/secret-box.js';
import type { Service } from './services/service.js';
import { ServiceGroup } from './services/service-group.js';
import { SettingsStore } from './settings/settings-store.js';

export const CAPABILITIES = ['mesh', 'pairing', 'relay'];

export interface NodeOptions {
  dataDir: string;
  /** Default 6969; 0 picks any free port. */
  port?: number;
  /** Listen address; default all interfaces, IPv6 and IPv4 (`::` dual stack; `0.0.0.0` where IPv6 is off). */
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
  /**
   * Tests: stands in for the self-connection check that decides which addresses are offered (made-up interface
   * addresses are not on the test machine, so connecting to them cannot answer).
   */
  reachability?: (addresses: string[]) => Promise<{ address: string; ok: boolean }[]>;
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
  /** File limits (maximum size, per-device quota, expiry; tests shrink them). */
  files?: Partial<FileLimits>;
  /** Tests: free bytes on the files folder's disk (a made-up full disk). */
  freeBytes?: (dir: string) => number;
  /**
   * The cloud's prekey directory (devices of other homes are claimed there, a share of ours moves there). Called
   * once the cloud link exists; default: the cloud's REST prekey routes with the link's token.
   */
  cloudPrekeys?: (cloud: CloudLink) => CloudPrekeysPort;
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

export type { Discovery, DiscoveryStatus } from './discovery/discovery.js';

/**
 * Builds the node's parts, then starts them as an ordered list of services (services/service-group.ts): the
 * database first, then the listener, this node's mesh row, the cloud link, the router, the peer links, mDNS and
 * the timers; stop() stops them in reverse. Changes made while the node runs (a rename, other settings) are
 * pushed to the parts that subscribe, whether or not they have started yet.
 */
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
      edgeLog.write(`timer:${what}`, 'warn', `${what} failed; retrying on the next tick`, {
        err: (err as Error).message,
        code: (err as NodeJS.ErrnoException).code,
      });
    }
  };
  const timings: NodeTimings = { ...DEFAULT_TIMINGS, ...opts.timings };
  const limits: NodeLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  // Read before anything else is opened: a corrupt settings file stops the start with an error naming it.
  const settings = new SettingsStore(opts.dataDir);
  const { identity: loaded, created } = loadOrCreateIdentity(opts.dataDir);
  const identity = new CurrentIdentity(opts.dataDir, loaded);
  const me = () => identity.get();
  log.info({ node_id: loaded.nodeId, created, data_dir: opts.dataDir }, created ? 'created a new node identity' : 'loaded node identity');

  const dbLog = createLogger('db');
  const database = openDatabase(opts.dataDir, {
    identityExisted: !created,
    allowNewDatabase: opts.allowNewDatabase ?? false,
    log: (msg, err) => dbLog.error({ err }, msg),
    ...(opts.backupClock ? { now: opts.backupClock } : {}),
  });
  let box: SecretBox;
  let secretsReset: SecretsResetReport | undefined;
  try {
    ({ box, reset: secretsReset } = openCheckedSecretBox({
      dataDir: opts.dataDir,
      sqlite: database.sqlite,
      ...(opts.secretBox ? { given: opts.secretBox } : {}),
      reset: opts.resetSecrets ?? false,
    }));
  } catch (err) {
    database.close();
    throw err;
  }
  if (secretsReset)
    log.warn({ ...secretsReset }, 'storage secrets reset: every device session revoked, peer links and the cloud token dropped');
  const dailyBackup = new DailyBackup({
    sqlite: database.sqlite,
    dir: backupsDir(opts.dataDir),
    base: DATABASE_BACKUP_BASE,
    ...(opts.backupClock ? { now: opts.backupClock } : {}),
    log: (msg, err) => dbLog.error({ err }, msg),
  });
  dailyBackup.tick();
  const deviceSockets = new DeviceSockets(limits.maxSocketsPerSession);
  const meshRepo = new MeshRepository(database.db);
  // The peer links exist while their service runs (they start after the listener: a peer may dial back at once),
  // but a revocation or an unpair must reach them at once.
  const peerLinkSlot: { running?: PeerLinkService } = {};
  const sessionsRepo = new SessionRepository(database.db, box, (ids) => {
    deviceSockets.closeSessions(ids);
    peerLinkSlot.running?.sessionsRevoked();
  });
  const nonces = new NonceRepository(database.db);
  const links = new PeerLinkRepository(database.db, box);
  const feed = new ChangeFeed();
  const notices = new NoticeBoard(feed);
  const mesh = new MeshService(meshRepo, sessionsRepo, links, feed, createLogger('mesh'), {
    offlineAfterMs: timings.offlineAfterMs,
    notices,
    beforeDesktopUnpair: (nodeId) => peerLinkSlot.running?.unpairing(nodeId),
  });
  const homeDirectory = new HomeDirectoryStore(
    new HomeDeviceRepository(database.db),
    meshRepo,
    (nodeId) => peerLinkSlot.running?.isUp(nodeId) ?? false,
  );
  // Messaging: the durable outbox/inbox (the cloud link, wired elsewhere, uses it as its MessageStorePort).
  const messaging = new MessageStore({
    sqlite: database.sqlite,
    nodeId: () => me().nodeId,
    nodeName: () => me().name,
    sendToDevice: (deviceId, frame) => deviceSockets.sendToDevice(deviceId, frame),
    // The desktop UI's device pushes ride the admin event socket, which forwards every non-'changed' feed event.
    sendToUi: (frame: DevicePush) => feed.emit(frame),
    subscribeChanges: (fn) =>
      feed.subscribe((e) => {
        if (e.type === 'changed') fn();
      }),
    log: createLogger('messaging'),
    caps: opts.messaging,
    uiKeyReplaced: (id) => prekeyStore.forgetDevice(id),
  });
  // The cloud link (cloud/cloud-link.ts): login, relay WebSocket, key directory; it drains `messaging`'s outbox.
  const cloud = new CloudLink({
    dataDir: opts.dataDir,
    box,
    store: messaging,
    log: createLogger('cloud'),
    options: opts.cloud,
    staticKey: () => ({ privateKey: me().privateKey, publicKey: me().publicKey }),
    nodeName: () => me().name,
    settings: {
      cloudUrl: () => settings.cloudUrl(),
      setCloudUrl: (url) => {
        settings.set({ cloud_url: url });
      },
    },
    onChange: (view) => feed.emit({ type: 'cloud', cloud: view }),
    replacements: () => meshRepo.replacements(),
  });
  // The router: local delivery, the peer links (attached by the peer-link service: router.attachPeerLinks) and
  // the cloud behind one interface; the message routes send through it.
  const router = new Router({
    store: messaging,
    sqlite: database.sqlite,
    replacements: () => meshRepo.replacements(),
    log: createLogger('router'),
    fallbackAfterMs: timings.homeFallbackMs,
    nodeId: () => me().nodeId,
    nodeName: () => me().name,
    subscribeChanges: (fn) =>
      feed.subscribe((e) => {
        if (e.type === 'changed') fn();
      }),
    cloud: new CloudTransport({
      status: () => cloud.status(),
      configured: () => cloud.configured(),
      knows: (id) => messaging.remoteKnows(id),
      subscribe: (fn) =>
        feed.subscribe((e) => {
          if (e.type === 'cloud') fn();
        }),
      wake: () => messaging.notifyCloudQueued(),
    }),
  });

  // Files: ciphertext of files our devices send or receive, uploaded with tus and served by byte range.
  const files = new FileService({
    blobs: new BlobRepository(database.db),
    dataDir: opts.dataDir,
    limits: { ...DEFAULT_FILE_LIMITS, ...opts.files },
    log: createLogger('files'),
    planRecipients: (to) => router.planFile(to),
    ...(opts.freeBytes ? { freeBytes: opts.freeBytes } : {}),
  });
  // Files for devices of other homes go through the cloud's blob store, and theirs for ours come back from it.
  const cloudFiles = new CloudBlobTransport({
    files: files.store,
    credentials: () => cloud.credentials(),
    isUp: () => cloud.transport.isUp(),
    onRelayEvent: (fn) => cloud.onRelayEvent(fn),
    log: createLogger('cloud-files'),
  });
  // Prekeys (PQXDH) of the devices this node serves; claims for others go over the peer link or to the cloud.
  const cloudPrekeys =
    opts.cloudPrekeys?.(cloud) ??
    new CloudPrekeys({ credentials: () => cloud.credentials(), tokenRefused: (code) => cloud.tokenRefused(code) });
  const prekeyStore = new PrekeyStore(new PrekeyRepository(database.db));
  const prekeyMover = new PrekeyCloudMover({
    store: prekeyStore,
    port: () => cloudPrekeys,
    devices: () => messaging.localDevices().map((d) => d.device_id),
    log: createLogger('prekeys'),
  });
  const prekeys = new PrekeyDirectory({
    store: prekeyStore,
    localKey: (id) => messaging.localDevices().find((d) => d.device_id === id)?.public_key,
    locate: (me, id) => router.directory(me).devices.find((d) => d.device_id === id),
    peerClaim: (nodeId, id) => peerLinkSlot.running?.claimPrekeys(nodeId, id),
    cloud: () => cloudPrekeys,
    published: (id) => {
      if (cloudPrekeys.available()) void prekeyMover.kick(id);
    },
  });
  const adminToken = opts.adminToken ?? toBase64Url(randomBytes(32));
  const defaultRenderer = join(appRoot(), 'out', 'renderer');
  const rendererDir = opts.rendererDir ?? (existsSync(defaultRenderer) ? defaultRenderer : undefined);
  const version = appVersion();
  // The listen setting applies at start: 'advertised' binds loopback (the desktop UI) plus the advertised
  // addresses of this moment; an explicit host (--host, tests) always wins. The default listens dual stack, so
  // the IPv6 addresses advertised next to the IPv4 ones take connections too.
  const listenSetting = settings.listen();
  const listenChosen = opts.host === undefined && listenSetting === 'advertised';
  const listenHost = opts.host ?? (listenChosen ? '127.0.0.1' : '::');

  const publicKey = toBase64Url(loaded.publicKey);
  const interfaceTable = opts.networkInterfaces ?? (() => cachedInterfaces());
  const local = new LocalAddresses(() => settings.interfaces(), interfaceTable);
  /** The addresses the interface settings advertise (the listener binds them under listen 'advertised'). */
  const ownAddresses = () => local.advertised();

  // The listener, as a service: the port is known once it started (0 before).
  let listening: Listening | undefined;
  const port = () => listening?.port ?? 0;
  const boundHosts = () => listening?.hosts ?? [listenHost];
  const listenOn = (host: string) =>
    listen(app.fetch as never, {
      port: opts.port ?? DEFAULT_PORT,
      host,
      strictPort: opts.strictPort ?? false,
      edgeLog,
      wsPingIntervalMs: timings.wsPingIntervalMs,
      ...(listenChosen ? { extraHosts: ownAddresses() } : {}),
    });
  const http: Service = {
    name: 'http',
    start: async () => {
      try {
        listening = await listenOn(listenHost);
      } catch (err) {
        // A machine with IPv6 turned off cannot bind `::`: the default then listens on IPv4 only.
        const code = (err as NodeJS.ErrnoException).code;
        if (opts.host !== undefined || listenHost !== '::' || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err;
        log.warn({ err: code }, 'IPv6 is not available: listening on IPv4 only');
        listening = await listenOn('0.0.0.0');
      }
      for (const f of listening.failed) log.warn({ host: f.host, err: f.error }, 'could not listen on a chosen address');
      if (opts.port !== undefined && opts.port !== 0 && listening.port !== opts.port) {
        log.warn({ wanted: opts.port, port: listening.port }, `port ${opts.port} was taken; listening on ${listening.port} instead`);
      }
    },
    stop: () => listening?.close(),
  };

  /**
   * What this node offers to other devices (QR candidate URLs, /api/node/addresses, mDNS, heartbeats, its
   * desktop_node, the UI's "reachable on"): the advertised addresses the listener accepts connections on and
   * on which this node, connecting to its own port, was answered by itself at the last check.
   */
  const candidates = () => ownAddresses().filter((a) => acceptsOn(boundHosts(), a));
  const reachable = opts.reachability ? new ReachableAddresses(opts.reachability) : ReachableAddresses.forNode(port, () => me().nodeId);
  const offered = () => reachable.filter(candidates());
  const advertised = new AdvertisedAddresses(offered);
  const recheck = (force = false) => reachable.refresh(candidates, force).then(() => advertised.check(force));

  const addressUrls = () => offered().map((a) => `http://${hostForUrl(a)}:${port()}`);
  const desktopNode = (): DesktopNode => ({
    node_id: me().nodeId,
    name: me().name,
    hostname: osHostname(),
    port: port(),
    capabilities: CAPABILITIES,
    public_key: publicKey,
    fingerprint: me().fingerprint,
    addresses: offered(),
  });
  const identityView = (): NodeIdentityResponse => ({
    node_id: me().nodeId,
    name: me().name,
    public_key: publicKey,
    fingerprint: me().fingerprint,
    capabilities: CAPABILITIES,
    version,
  });
  const selfRow = () => ({
    id: me().nodeId,
    name: me().name,
    hostname: osHostname(),
    port: port(),
    capabilities: CAPABILITIES,
    publicKey,
    addresses: offered(),
  });

  const discovery =
    opts.mdns || opts.discovery
      ? new DiscoveryService({
          create: async () => {
            if (opts.discovery) return opts.discovery;
            const { MdnsDiscovery } = await import('./discovery/mdns-discovery.js');
            return new MdnsDiscovery({
              self: { node_id: me().nodeId, name: me().name, fingerprint: normalizeFingerprint(me().fingerprint)!, port: port(), version },
              logger: createLogger('mdns'),
              // The one interface poller of the node, so mDNS and every other part agree on the interfaces.
              interfaces: () => local.all(),
              addresses: offered(),
            }) as unknown as Discovery;
          },
          name: () => me().name,
          addresses: offered,
          log,
          onChange: () => feed.changed(),
          // What mDNS hears about paired nodes: their addresses join the others; a goodbye shows them offline at once.
          onPeerAddresses: (nodeId, addresses) => mesh.learnAddresses(nodeId, addresses),
          onGoodbye: (nodeId) => mesh.goodbye(nodeId),
          // The module noticed an interface change before our own poll did.
          onInterfaces: () => void recheck(),
        })
      : undefined;
  const discovered = (): DiscoveredNodeView[] =>
    (discovery?.current()?.peers() ?? []).map((p) => ({
      ...p,
      paired: mesh.isPaired(p.node_id),
    }));

  // A pairing URL must name an address this node accepts connections on: listening on every interface, those
  // of the bound family (`::` takes both); on chosen addresses (--host, listen 'advertised'), only those bound,
  // else the bound host itself.
  const listenedOf = (addrs: string[]): string[] => {
    const hosts = boundHosts();
    const accepted = addrs.filter((a) => acceptsOn(hosts, a));
    const wildcard = !listenChosen && (hosts[0] === '0.0.0.0' || hosts[0] === '::');
    return accepted.length > 0 || wildcard ? accepted : [...hosts];
  };
  const pairing = new PairingService(
    new PairingCodeRepository(database.db),
    meshRepo,
    sessionsRepo,
    {
      self: desktopNode,
      port,
      staticKey: () => ({ privateKey: me().privateKey, publicKey: me().publicKey }),
      advertisedAddresses: () => listenedOf(offered()),
      lanAddresses: () => listenedOf(local.lan().map((a) => a.address)),
      replaceStale: (candidate, keep) => mesh.replaceStale(candidate, keep),
    },
    timings,
    createLogger('pairing'),
    limits,
  );

  // Who hears about a change: a rename reaches this node's mesh row, mDNS, the peer links (while they run) and the
  // UI; new advertised addresses reach mDNS, the mesh row and the UI; a new cloud URL reaches the cloud link.
  identity.onRenamed((name) => {
    meshRepo.upsertSelf(selfRow());
    discovery?.renamed(name);
    feed.changed();
  });
  advertised.onChange((addresses) => {
    discovery?.addressesChanged(addresses);
    if (port() !== 0) meshRepo.upsertSelf(selfRow());
    feed.changed();
  });
  settings.onChange((saved, update) => {
    if (update.cloud_url !== undefined) cloud.settingsChanged();
    log.info({ interfaces: saved.interfaces }, 'interface settings changed');
    void recheck(true);
  });

  const meshNodeViewStatus = (row: Parameters<typeof presenceOf>[0], now: number) => presenceOf(row, timings.offlineAfterMs, now);

  const core: NodeCore = {
    adminToken,
    rendererDir,
    timings,
    limits,
    log,
    edgeLog,
    feed,
    pairing,
    mesh,
    sessionsRepo,
    nonces,
    deviceSockets,
    messaging,
    router,
    files,
    prekeys,
    cloud,
    identityView,
    desktopNode,
    pairingIdentity: () => ({
      privateKey: me().privateKey,
      publicKey: me().publicKey,
      payload: {
        node_id: me().nodeId,
        name: me().name,
        capabilities: CAPABILITIES,
        device_info: { platform: process.platform, app_version: version, hostname: osHostname() },
        public_key: publicKey,
        port: port(),
        addresses: offered(),
      },
    }),
    adminState: (): AdminState => ({
      identity: identityView(),
      port: port(),
      devices: mesh.devices(),
      discovered: discovered(),
      // `advertised` says what is offered: an address the node cannot be reached on is not shown as reachable.
      lan_addresses: (() => {
        const now = new Set(offered());
        return local.lan().map((a) => ({ ...a, advertised: a.advertised && now.has(a.address) }));
      })(),
      pending_pairings: [...pairing.pending.list(), ...mesh.pendingOutgoing()],
      notices: notices.list(),
    }),
    notices,
    settings: () => settings.get(),
    // Answers once the addresses the new settings advertise were checked, so the answer's effects are in place.
    updateSettings: async (update: SettingsUpdateRequest) => {
      const saved = settings.update(update);
      await reachable.refresh(candidates);
      advertised.check();
      return saved;
    },
    addressUrls,
    diagnostics: async (): Promise<DiagnosticsResponse> => {
      const interfaces = local.all();
      const advertisedNow = ownAddresses();
      const module = discovery?.current();
      const status = module?.status?.();
      const mdnsError = status?.last_error ?? discovery?.lastError();
      const now = Date.now();
      return {
        interfaces: interfaces.map((a) => ({
          name: a.interface,
          address: a.address,
          family: a.family,
          kind: a.kind,
          advertised: a.advertised,
        })),
        missing_interfaces: local.missingInterfaces(),
        port: port(),
        listen: {
          host: listenChosen ? boundHosts().join(', ') : boundHosts()[0]!,
          addresses: listenChosen ? boundHosts() : listenAddresses(boundHosts()[0]!, interfaces),
          pending_restart: settings.listen() !== listenSetting,
        },
        reachability: await checkReachability(advertisedNow, port(), me().nodeId),
        mdns: {
          enabled: module !== undefined || opts.mdns === true,
          running: status?.running ?? module !== undefined,
          ...(status?.instance_name !== undefined ? { instance_name: status.instance_name } : {}),
          advertised_addresses: status?.advertised_addresses ?? (module ? offered() : []),
          discovered: status?.discovered ?? module?.peers().length ?? 0,
          ...(mdnsError !== undefined ? { last_error: mdnsError } : {}),
        },
        peers: mesh.peerRows().map((row) => {
          const round = mesh.lastHeartbeatRound(row.id);
          return {
            node_id: row.id,
            name: row.name,
            status: meshNodeViewStatus(row, now),
            last_seen: row.lastSeen,
            addresses: row.addresses,
            ...(round ? { last_attempt: { at: round.at, tried: round.tried.map((t) => ({ ...t })) } } : {}),
          };
        }),
        firewall_hints: firewallHints(port()),
      };
    },
    rename: (name: string) => {
      identity.rename(name);
    },
    get peerLinks() {
      return peerLinkSlot.running;
    },
  };
  const app = createApp(core);

  const peerLinks: Service = (() => {
    let unsubscribe: (() => void) | undefined;
    return {
      name: 'peer links',
      start: () => {
        const service = new PeerLinkService({
          self: () => ({ nodeId: me().nodeId, name: me().name, privateKey: me().privateKey, publicKey: me().publicKey }),
          mesh: meshRepo,
          sessions: sessionsRepo,
          links,
          credentials: new PairingCredentialsLookup(database.db, meshRepo, sessionsRepo, links),
          notices: new UnpairNoticeRepository(database.db, box),
          directory: homeDirectory,
          router: opts.peerLinkRouter ?? router,
          feed,
          noticeBoard: notices,
          log: createLogger('peer-link'),
          files: files.store,
          prekeys: (id) => prekeys.claimLocal(id),
          keyLog: {
            current: () => cloud.keyLogHead(),
            onHead: (fn) => cloud.onKeyLogHead(fn),
            fromPeer: (nodeId, cloudKey, head) => cloud.keyLogHeadFromPeer(nodeId, cloudKey, head),
          },
          ...(opts.peerLink ? { options: opts.peerLink } : {}),
        });
        peerLinkSlot.running = service;
        router.attachPeerLinks(service, homeDirectory);
        service.start();
        unsubscribe = identity.onRenamed((name) => service.renamed(name));
      },
      stop: () => {
        unsubscribe?.();
        peerLinkSlot.running?.stop();
      },
    };
  })();

  const timers: Service = (() => {
    const running: NodeJS.Timeout[] = [];
    return {
      name: 'timers',
      start: () => {
        running.push(
          setInterval(
            guarded('presence sweep', () => mesh.sweepPresence(timings.offlineAfterMs)),
            Math.max(100, Math.min(10_000, timings.offlineAfterMs / 6)),
          ),
          // Interfaces come and go (Wi-Fi roams, a VPN starts): re-advertise when the advertised set changes.
          setInterval(
            guarded('interface check', () => {
              void recheck();
              const err = takeInterfaceError();
              if (err) throw err;
            }),
            3_000,
          ),
          // A firewall rule or a dead interface changes what answers without changing the address set: look again.
          setInterval(
            guarded('reachability check', () => void reachable.refresh(candidates, true).then(() => advertised.check())),
            60_000,
          ),
          setInterval(
            guarded('nonce, pairing code and session prune', () => {
              nonces.prune(Date.now());
              pairing.prune();
            }),
            60_000,
          ),
          // At most one backup a day; the hourly look keeps that true for a node that runs for weeks.
          setInterval(
            guarded('daily backup', () => dailyBackup.tick()),
            60 * 60_000,
          ),
          setInterval(
            guarded(
              'peer heartbeat',
              () =>
                void mesh.heartbeatPeers(offered()).catch((err: Error) => log.warn({ err: err.message }, 'peer heartbeat round failed')),
            ),
            timings.heartbeatIntervalMs,
          ),
        );
        for (const t of running) t.unref();
      },
      stop: () => {
        for (const t of running.splice(0)) clearInterval(t);
      },
    };
  })();

  // Paired devices hear about a rename and a changed directory on their event sockets (http/device-change-pushes.ts).
  const devicePushes: Service = (() => {
    let stop: (() => void) | undefined;
    return {
      name: 'device pushes',
      start: () => {
        stop = pushChangesToDevices({
          feed,
          sockets: deviceSockets,
          desktopNode,
          // `me` is the only per-device part of a directory answer: with a fixed one the key is every device's.
          directoryKey: () => JSON.stringify(router.directory('')),
          onRenamed: (fn) => identity.onRenamed(fn),
        });
      },
      stop: () => stop?.(),
    };
  })();
  // A share of the one-time prekeys moves to the cloud whenever the cloud link comes up (and after a publish).
  const prekeyMoving: Service = (() => {
    let unsubscribe: (() => void) | undefined;
    let wasAvailable = false;
    return {
      name: 'prekey mover',
      start: () => {
        const look = () => {
          const now = cloudPrekeys.available();
          if (now && !wasAvailable) void prekeyMover.kick();
          wasAvailable = now;
        };
        unsubscribe = feed.subscribe((e) => {
          if (e.type === 'cloud') look();
        });
        look();
      },
      stop: () => {
        unsubscribe?.();
        prekeyMover.stop();
      },
    };
  })();
  const services = new ServiceGroup(
    [
      { name: 'database', start: () => {}, stop: () => database.close() },
      { name: 'messaging', start: () => {}, stop: () => messaging.close() },
      http,
      // This node's own row in the mesh (its port is known now), and the advertised set taken as announced.
      {
        name: 'mesh',
        start: async () => {
          await reachable.refresh(candidates);
          meshRepo.upsertSelf(selfRow());
          advertised.settle();
        },
        stop: () => mesh.stop(),
      },
      { name: 'cloud', start: () => cloud.start(), stop: () => cloud.stop() },
      { name: 'router', start: () => router.start(), stop: () => router.stop() },
      files,
      cloudFiles,
      devicePushes,
      peerLinks,
      prekeyMoving,
      ...(discovery ? [discovery] : []),
      timers,
    ],
    (service, err) => log.warn({ service, err: err.message }, 'a service failed to stop'),
  );
  await services.start();
  const adminUrl = `http://127.0.0.1:${port()}/#admin=${adminToken}`;
  writeAdminUrlFile(opts.dataDir, adminUrl);

  let stopping: Promise<void> | undefined;
  return {
    port: port(),
    adminToken,
    adminUrl,
    dataDir: opts.dataDir,
    get identity() {
      const now = me();
      return { node_id: now.nodeId, name: now.name, fingerprint: now.fingerprint, public_key: publicKey };
    },
    core,
    ...(secretsReset ? { secretsReset } : {}),
    stop: () =>
      (stopping ??= (async () => {
        await services.stop();
        removeAdminUrlFile(opts.dataDir, adminUrl);
        log.info('node stopped');
      })()),
  };
}
