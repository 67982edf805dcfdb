// The one router: every envelope a local device sends goes through send(), which picks a route per recipient
// (local > lan > cloud, see docs/relay.md "Routes") and has the message store commit the send with that plan
// (local inbox rows in the same unit, outbox rows per destination), then wakes the transports that got rows. It
// also moves envelopes for a paired desktop whose link stayed down to the cloud (fallback), serves the peer-link
// service (PeerLinkRouterPort), turns inbox acks into 'seen' receipts, and builds the messaging directory.
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Envelope } from '../../../shared/e2ee/schema.js';
import {
  type DirectoryDevice,
  keepReplaces,
  type MessagingDirectory,
  type MessagingDirectoryDevice,
  type Route,
  type SendAccepted,
} from '../../../shared/wire/relay.js';
import { DomainError } from '../errors/domain-error.js';
import type { MessageStore, RecipientPlan } from '../messaging/message-store.js';
import { LocalTransport } from './local-transport.js';
import { PeerTransport } from './peer-transport.js';
import {
  CLOUD,
  type CloudTransportPort,
  type HomeDirectory,
  LOCAL,
  NO_HOME,
  type PeerLinkRouterPort,
  type PeerLinks,
  type PeerOutboundItem,
  type PeerRefusal,
} from './ports.js';

export interface RouterDeps {
  store: MessageStore;
  cloud: CloudTransportPort;
  /** The node's database (read only here: the public keys of paired desktops, to know their cloud entries). */
  sqlite: Database.Database;
  nodeId(): string;
  nodeName(): string;
  /** How long a home desktop's link may be down before its envelopes go by the cloud (NodeTimings.homeFallbackMs). */
  fallbackAfterMs: number;
  /** "Something changed" (the ChangeFeed): pairing and unpairing change which cloud entries are home. */
  subscribeChanges(fn: () => void): () => void;
  log: Logger;
  now?: () => number;
  /** The old ids each device of this node replaced when it was re-paired (MeshRepository.replacements). */
  replacements?(): Map<string, string[]>;
}

export class Router implements PeerLinkRouterPort {
  readonly local = new LocalTransport();
  readonly peer: PeerTransport;
  private home: HomeDirectory = NO_HOME;
  private unsubscribeHome: () => void = () => {};
  private readonly unsubscribe: (() => void)[] = [];
  private readonly now: () => number;
  private readonly desktopKeys;
  /** Paired desktops of the home by their public key (how the cloud names a node), until something changes. */
  private homeByKey: Map<string, string> | undefined;
  private sweeping = false;
  private sweepAgain = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: RouterDeps) {
    this.now = d.now ?? Date.now;
    this.peer = new PeerTransport(this.now(), (err) => d.log.warn({ err: err.message }, 'peer transport listener failed'));
    this.desktopKeys = d.sqlite.prepare<[], { id: string; public_key: string }>(
      "SELECT id, public_key FROM mesh_nodes WHERE is_current = 0 AND kind = 'desktop' AND public_key IS NOT NULL AND ended_by_peer_at IS NULL",
    );
    this.unsubscribe.push(
      d.subscribeChanges(() => {
        this.homeByKey = undefined;
      }),
      d.cloud.onChange(() => this.sweep()),
      d.store.onRemoteDirectory(() => this.sweep()),
      this.peer.onChange((nodeId) => {
        // A link that came back takes its waiting rows at once; one that went down may be due for the cloud.
        if (nodeId !== undefined && this.peer.isUp(nodeId)) this.peer.wake(nodeId);
        this.sweep();
      }),
    );
  }

  /** Starts the fallback timer. */
  start(): void {
    if (this.timer) return;
    const tick = Math.max(50, Math.min(1_000, Math.floor(this.d.fallbackAfterMs / 4)));
    this.timer = setInterval(() => this.sweep(), tick);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const u of this.unsubscribe.splice(0)) u();
    this.unsubscribeHome();
    this.peer.detach();
  }

  /**
   * Late binding of the peer-link service (it needs this router as its PeerLinkRouterPort first). Until this is
   * called, no desktop is in the home and no link is up.
   */
  attachPeerLinks(links: PeerLinks, home: HomeDirectory): void {
    this.unsubscribeHome();
    this.home = home;
    this.homeByKey = undefined;
    this.unsubscribeHome = home.onChange(() => {
      this.homeByKey = undefined;
      this.sweep();
    });
    this.peer.attach(links);
  }

  // ---- routing --------------------------------------------------------------------------------------------

  /** The paired desktop of the home serving `deviceId`: announced over the link, or named so by the cloud. */
  homeNodeOf(deviceId: string): string | undefined {
    const announced = this.home.nodeOf(deviceId);
    if (announced !== undefined) return announced;
    const key = this.d.store.remoteNodeOf(deviceId);
    return key === undefined ? undefined : this.homeKeys().get(key);
  }

  private homeKeys(): Map<string, string> {
    if (this.homeByKey) return this.homeByKey;
    const inHome = new Set(this.home.nodes().map((n) => n.node_id));
    const map = new Map<string, string>();
    if (inHome.size > 0) for (const r of this.desktopKeys.all()) if (inHome.has(r.id)) map.set(r.public_key, r.id);
    this.homeByKey = map;
    return map;
  }

  /**
   * The link to `nodeId` has been down for at least the fallback delay, and the cloud can take over. A desktop
   * the peer-link service no longer knows (unpaired with envelopes still waiting) counts as down for good.
   */
  private dueForCloud(nodeId: string): boolean {
    if (this.peer.isUp(nodeId) || !this.d.cloud.isUp(CLOUD)) return false;
    const since = this.peer.downSince(nodeId) ?? 0;
    return this.now() - since >= this.d.fallbackAfterMs;
  }

  private cloudKnowsAll(deviceIds: readonly string[]): boolean {
    return deviceIds.every((id) => this.d.cloud.knows(id));
  }

  /** Where each recipient goes now; 409 cloud_not_linked if one is outside the home and there is no cloud. */
  plan(envelope: Envelope): RecipientPlan[] {
    const plan: RecipientPlan[] = [];
    const byPeer = new Map<string, string[]>();
    const outside: string[] = [];
    for (const device of envelope.to) {
      if (this.d.store.isLocal(device)) {
        plan.push({ device, destination: LOCAL });
        continue;
      }
      const node = this.homeNodeOf(device);
      if (node !== undefined) {
        const list = byPeer.get(node);
        if (list) list.push(device);
        else byPeer.set(node, [device]);
      } else if (this.d.cloud.configured()) {
        plan.push({ device, destination: CLOUD });
      } else {
        outside.push(device);
      }
    }
    if (outside.length > 0) {
      throw new DomainError(
        'cloud_not_linked',
        'Some recipients are not in this home, and this node is not linked to a cloud, so it cannot reach them. Link it in the desktop app.',
        { device_ids: outside },
      );
    }
    for (const [node, devices] of byPeer) {
      // While older envelopes still wait for this desktop, a new one queues behind them even if the fallback is
      // due: routed straight to the cloud it would overtake them (the sweep moves them to the cloud a moment
      // later, with newer cloud seqs). The sweep moves it along with them, in order.
      const destination =
        this.dueForCloud(node) && this.cloudKnowsAll(devices) && !this.d.store.peerDestinations().includes(node) ? CLOUD : node;
      for (const device of devices) plan.push({ device, destination });
    }
    return plan;
  }

  /**
   * Where each recipient of a file goes: a device of this node downloads it here; a home desktop's device gets it
   * over the peer link (that desktop pulls it); anyone else through the cloud's blob store.
   */
  planFile(to: readonly string[]): { deviceId: string; route: 'local' | 'lan' | 'cloud'; nodeId?: string }[] {
    type Planned = { deviceId: string; route: 'local' | 'lan' | 'cloud'; nodeId?: string };
    const outside: string[] = [];
    const plan = to.flatMap((deviceId): Planned[] => {
      if (this.d.store.isLocal(deviceId)) return [{ deviceId, route: 'local' as const }];
      const nodeId = this.homeNodeOf(deviceId);
      if (nodeId !== undefined) return [{ deviceId, route: 'lan' as const, nodeId }];
      // The cloud's blob store hands a blob to the node serving the device (its cloud id), not to the device.
      const cloudNode = this.d.cloud.configured() && this.d.cloud.knows(deviceId) ? this.d.store.remoteNodeOf(deviceId) : undefined;
      if (cloudNode !== undefined) return [{ deviceId, route: 'cloud' as const, nodeId: cloudNode }];
      outside.push(deviceId);
      return [];
    });
    if (outside.length > 0)
      throw new DomainError(
        'unknown_recipient',
        'This node cannot reach some recipients: not its devices, not in its home, not known to its cloud.',
        {
          device_ids: outside,
        },
      );
    return plan;
  }

  /** POST /api/messages: routes and commits (before the caller's 202), then wakes the transports. */
  async send(fromDevice: string, envelope: Envelope): Promise<SendAccepted> {
    const r = await this.d.store.enqueue(fromDevice, envelope, this.plan(envelope));
    for (const destination of r.queuedFor) this.wake(destination);
    // Queued behind older envelopes for a desktop whose fallback is due (plan()): move them all now, not on the next tick.
    if (r.queuedFor.some((d) => d !== CLOUD && d !== LOCAL && this.dueForCloud(d))) this.sweep();
    return r.accepted;
  }

  private wake(destination: string): void {
    if (destination === CLOUD) this.d.cloud.wake(CLOUD);
    else if (destination === LOCAL) this.local.wake(LOCAL);
    else this.peer.wake(destination);
  }

  /**
   * Moves what waits for desktops whose link stayed down to the cloud (when it is connected and knows the
   * recipients). Runs on a timer and on every link, cloud and directory change; one pass at a time.
   */
  sweep(): void {
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    let due: string[];
    try {
      due = this.d.store.peerDestinations().filter((node) => this.dueForCloud(node));
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'fallback check failed');
      return;
    }
    if (due.length === 0) return;
    this.sweeping = true;
    void (async () => {
      try {
        for (const node of due) {
          const moved = await this.d.store.moveToCloud(node, (ids) => this.cloudKnowsAll(ids));
          if (moved > 0) {
            this.d.log.info({ node_id: node, moved }, 'the link to a home desktop stayed down: its envelopes go through the cloud');
            this.d.cloud.wake(CLOUD);
          }
        }
      } catch (err) {
        this.d.log.warn({ err: (err as Error).message }, 'moving envelopes to the cloud failed; trying again on the next tick');
      } finally {
        this.sweeping = false;
        if (this.sweepAgain) {
          this.sweepAgain = false;
          this.sweep();
        }
      }
    })();
  }

  /** POST /api/messages/inbox/ack: the store acks; peers that sent some of them get their 'seen' receipts. */
  ack(deviceId: string, upToSeq: number): number {
    const r = this.d.store.ack(deviceId, upToSeq);
    for (const node of r.peers) this.peer.wake(node);
    return r.removed;
  }

  // ---- PeerLinkRouterPort ---------------------------------------------------------------------------------

  pendingForPeer(nodeId: string, afterSeq: number, limit: number): PeerOutboundItem[] {
    return this.d.store.pendingForPeer(nodeId, afterSeq, limit);
  }

  onQueuedForPeer(fn: (nodeId: string) => void): () => void {
    return this.peer.onQueued(fn);
  }

  peerAcked(nodeId: string, item: { seq: number; kind: 'envelope' | 'seen'; id: string }, refused?: PeerRefusal): Promise<void> {
    return this.d.store.peerAcked(nodeId, item, refused);
  }

  storeFromPeer(nodeId: string, envelope: Envelope): Promise<{ refused: string[] }> {
    return this.d.store.storeFrom(nodeId, envelope);
  }

  seenFromPeer(nodeId: string, id: string, deviceIds: string[]): Promise<void> {
    // Only for recipients that peer serves: a peer cannot mark what it never carried as seen.
    return this.d.store.seenFromPeer(id, deviceIds, (r) => r.destination === nodeId || this.homeNodeOf(r.device_id) === nodeId);
  }

  localDevices(): DirectoryDevice[] {
    return this.d.store.localDevices();
  }

  localReplacements(): ReadonlyMap<string, readonly string[]> {
    return this.d.replacements?.() ?? new Map();
  }

  onLocalDevicesChanged(fn: () => void): () => void {
    return this.d.store.onLocalDevicesChanged(fn);
  }

  // ---- the messaging directory ----------------------------------------------------------------------------

  /**
   * What `me` can write to: this node's devices, the home desktops' devices (announced over the link, or listed
   * by the cloud under a home desktop's key), then other homes' (the cloud's directory), each with the route a
   * message would take now (absent: it would wait).
   */
  directory(me: string): MessagingDirectory {
    const selfId = this.d.nodeId();
    const selfName = this.d.nodeName();
    const cloudUp = this.d.cloud.isUp(CLOUD);
    const homeNodes = [...this.home.nodes()].sort((a, b) => a.name.localeCompare(b.name) || (a.node_id < b.node_id ? -1 : 1));
    const names = new Map(homeNodes.map((n) => [n.node_id, n.name]));
    const listed = new Set<string>();
    const devices: MessagingDirectoryDevice[] = [];
    const replacements = this.d.replacements?.();
    for (const d of this.d.store.localDevices()) {
      listed.add(d.device_id);
      const replaces = replacements?.get(d.device_id) ?? [];
      devices.push({ ...d, home: 'local', node_id: selfId, node_name: selfName, route: 'local', ...(replaces.length ? { replaces } : {}) });
    }
    const homeRoute = (node: string, device: string): Route | undefined =>
      this.peer.isUp(node) ? 'lan' : cloudUp && this.d.cloud.knows(device) ? 'cloud' : undefined;
    const addHome = (d: DirectoryDevice & { replaces?: string[] }, node: string) => {
      if (listed.has(d.device_id)) return;
      listed.add(d.device_id);
      const route = homeRoute(node, d.device_id);
      devices.push({
        device_id: d.device_id,
        public_key: d.public_key,
        name: d.name,
        kind: d.kind,
        home: 'home',
        node_id: node,
        node_name: names.get(node) ?? node,
        ...(route ? { route } : {}),
        ...(d.replaces?.length ? { replaces: d.replaces } : {}),
      });
    };
    for (const n of homeNodes) for (const d of n.devices) addHome(d, n.node_id);
    const homeKeys = this.homeKeys();
    const remote: MessagingDirectoryDevice[] = [];
    for (const e of this.d.store.remoteDirectory()) {
      const node = homeKeys.get(e.node);
      if (node !== undefined) {
        addHome(e, node);
        continue;
      }
      if (listed.has(e.device_id)) continue;
      listed.add(e.device_id);
      remote.push({
        device_id: e.device_id,
        public_key: e.public_key,
        name: e.name,
        kind: e.kind,
        home: 'remote',
        // The other home's desktop that published it: a home's safety number is over its desktops' devices.
        node_id: e.node,
        ...(cloudUp ? { route: 'cloud' as const } : {}),
        ...(e.replaces?.length ? { replaces: e.replaces } : {}),
      });
    }
    return {
      me,
      devices: withoutListedReplaces([...devices, ...remote]),
      nodes: [
        { node_id: selfId, name: selfName, self: true, online: true },
        ...homeNodes.map((n) => ({ node_id: n.node_id, name: n.name, self: false, online: this.peer.isUp(n.node_id) })),
      ],
      cloud: { status: this.d.cloud.status() },
    };
  }
}

/**
 * A device may name only old ids that no device listed now has: whoever told us (a desktop of the home, the
 * cloud) cannot put its device in the place of one that is still there.
 */
function withoutListedReplaces(devices: MessagingDirectoryDevice[]): MessagingDirectoryDevice[] {
  const ids = new Set(devices.map((d) => d.device_id));
  return devices.map((d) => keepReplaces(d, (id) => !ids.has(id)));
}
