// The peer links of this node: one authenticated link per paired desktop (docs/protocol.md, "Peer link").
// It dials every paired desktop that has no link (jittered backoff over its known addresses), takes links the
// other side dials, keeps one per pair (the one dialed by the smaller node id), carries the router's outbox rows
// in order with a window and acks, keeps the home directory and names current, shows presence, and delivers
// and receives unpairs. Implements PeerLinks for the router.
import type { Logger } from 'pino';
import { fromBase64Url } from '../../../shared/encoding.js';
import type { KeyLogHead } from '../../../shared/transparency/key-log.js';
import {
  type AnnouncedDevice,
  type BlobData,
  type BlobFrame,
  featuresOf,
  MAX_ANNOUNCED_DEVICES,
  PEER_CLOSE,
  PEER_FEATURE_KEY_LOG,
  PEER_FEATURE_REPLACES,
  PEER_LINK_FEATURES,
  PEER_LINK_WINDOW,
  type PeerFrame,
  type PrekeyFrame,
} from '../../../shared/wire/peer-link.js';
import { Backoff } from '../cloud/backoff.js';
import type { MeshRepository } from '../db/mesh-repository.js';
import type { PeerLinkRepository } from '../db/peer-link-repository.js';
import type { SessionRepository } from '../db/session-repository.js';
import type { UnpairNoticeRepository } from '../db/unpair-notice-repository.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { NoticeBoard } from '../events/notices.js';
import type { BlobFiles } from '../files/blob-ports.js';
import type { PeerLinkRouterPort, PeerLinks, PeerOutboundItem } from '../routing/ports.js';
import { LinkError } from './frame-cipher.js';
import type { HomeDirectoryStore } from './home-directory.js';
import type { PairingCredentialsLookup } from './pairing-credentials.js';
import { PeerBlobTransfer } from './peer-blob-transfer.js';
import type { LinkSocket } from './peer-connection.js';
import { PeerConnection } from './peer-connection.js';
import { dialPeer } from './peer-dialer.js';
import { peerLinkHandshake } from './peer-link-keys.js';
import { type LocalPrekeyClaim, type PeerClaimResult, PeerPrekeyClaims } from './peer-prekey-claims.js';

export interface PeerLinkOptions {
  /** Reconnect delays: full jitter between 0 and min(cap, base * 2^attempt). LAN-sized. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** One dial attempt (TCP + upgrade + handshake) on one address. */
  attemptTimeoutMs: number;
  /** How long `unpair` waits for the peer's unpair_ack before it falls back to a stored notice. */
  unpairAckTimeoutMs: number;
  /** The mesh row of an up link is touched (online, last seen) this often. */
  touchIntervalMs: number;
  /** The dialer pings its socket this often (the listener side is pinged by the node's WS heartbeat). */
  pingIntervalMs: number;
  /** A stored unpair notice that could not be delivered for this long is given up (the row is deleted). */
  noticeKeepMs: number;
  /** Unacked envelope + seen frames in flight, either way (PEER_LINK_WINDOW). */
  window: number;
  /** How long a prekey claim sent to a home desktop waits for its answer. */
  prekeyClaimTimeoutMs: number;
}

export const DEFAULT_PEER_LINK_OPTIONS: PeerLinkOptions = {
  backoffBaseMs: 500,
  backoffCapMs: 10_000,
  attemptTimeoutMs: 5_000,
  unpairAckTimeoutMs: 5_000,
  touchIntervalMs: 10_000,
  pingIntervalMs: 15_000,
  noticeKeepMs: 30 * 24 * 3600_000,
  window: PEER_LINK_WINDOW,
  prekeyClaimTimeoutMs: 5_000,
};

/** Extra frames (directory, node, acks) a receiver queues beyond the window before it calls it a flood. */
const QUEUE_SLACK = 64;

export interface PeerLinkDeps {
  self: () => { nodeId: string; name: string; privateKey: Uint8Array; publicKey: Uint8Array };
  mesh: MeshRepository;
  sessions: SessionRepository;
  links: PeerLinkRepository;
  credentials: PairingCredentialsLookup;
  notices: UnpairNoticeRepository;
  directory: HomeDirectoryStore;
  router: PeerLinkRouterPort;
  feed: ChangeFeed;
  noticeBoard: NoticeBoard;
  log: Logger;
  /** The node's blob store: files for devices of a paired desktop go over the link (absent: no files on links). */
  files?: BlobFiles;
  /** Answers a home desktop's prekey claim for a device this node serves (absent: every claim is refused). */
  prekeys?: LocalPrekeyClaim;
  /** The cloud key log heads this node verified, passed to the home's nodes and checked from them (absent: none). */
  keyLog?: KeyLogGossip;
  options?: Partial<PeerLinkOptions>;
}

/** What the links pass on of the cloud link's key log audit (cloud-link.ts). */
export interface KeyLogGossip {
  /** The head this node verified last, and the cloud key it is signed by. */
  current(): { cloudKey: string; head: KeyLogHead } | null;
  /** Hears every newly verified head. */
  onHead(fn: (cloudKey: string, head: KeyLogHead) => void): () => void;
  /** A peer's head: checked against ours when it is our cloud's. Never rejects. */
  fromPeer(nodeId: string, cloudKey: string, head: KeyLogHead): Promise<void>;
}

/** 'pairing': the live pairing. 'notice': we unpaired this peer; the link only delivers `unpair`. 'ending': closing after unpair. */
type LinkMode = 'pairing' | 'notice' | 'ending';

interface Link {
  conn: PeerConnection;
  nodeId: string;
  sessionId: string;
  dialedBySelf: boolean;
  address: string | undefined;
  mode: LinkMode;
  /**
   * What the peer said it speaks beyond the base frames (the dialer in its query; the listener in its hello,
   * to a dialer that named some): only then does it get fields an older node would refuse.
   */
  peerFeatures: Set<string>;
  /** Our hello went out / the peer's hello came in (the link is "up" once both happened). */
  helloSent: boolean;
  helloReceived: boolean;
  /** Outbox rows sent on this link and not yet acked, by seq; `cursor` = the highest seq sent. */
  inflight: Map<number, PeerOutboundItem>;
  cursor: number;
  /** Received envelope/seen frames not yet acked, and frames waiting in `chain`. */
  unacked: number;
  queued: number;
  /** Received frames settle one after the other (an ack goes out only after its frame's commit). */
  chain: Promise<void>;
  pumping: boolean;
  unpairAcked?: () => void;
}

interface PeerState {
  link: Link | undefined;
  /** The current link is up (both hellos). */
  up: boolean;
  /** What listeners were last told: a link replaced by the tie-break goes from up to up without a "down". */
  reportedUp: boolean;
  downSince: number;
  dialing: boolean;
  timer: NodeJS.Timeout | undefined;
  backoff: Backoff;
}

/** The file-transfer frames (and binary blob data) go to their own handler; the rest are the link's. */
function isPrekeyFrame(frame: PeerFrame | BlobData): frame is PrekeyFrame {
  return frame.type.startsWith('prekey_');
}

function isBlobTraffic(frame: PeerFrame | BlobData): frame is BlobFrame | BlobData {
  return frame.type.startsWith('blob_');
}

export class PeerLinkService implements PeerLinks {
  private readonly opts: PeerLinkOptions;
  private readonly peers = new Map<string, PeerState>();
  /** Links past their handshake that are not (or no longer) the current one of their peer. */
  private readonly others = new Set<Link>();
  private readonly listeners = new Set<(nodeId: string, up: boolean) => void>();
  private readonly startedAt = Date.now();
  private readonly cleanups: (() => void)[] = [];
  private stopped = false;
  private started = false;
  private readonly blobs: PeerBlobTransfer | undefined;
  private readonly prekeyClaims: PeerPrekeyClaims;

  constructor(private readonly d: PeerLinkDeps) {
    this.opts = { ...DEFAULT_PEER_LINK_OPTIONS, ...d.options };
    this.prekeyClaims = new PeerPrekeyClaims({
      send: (nodeId, frame) => this.upLink(nodeId)?.conn.send(frame),
      isUp: (nodeId) => this.upLink(nodeId) !== undefined,
      answer: d.prekeys,
      timeoutMs: this.opts.prekeyClaimTimeoutMs,
    });
    const files = d.files;
    this.blobs =
      files &&
      new PeerBlobTransfer({
        files,
        log: d.log,
        nodeOf: (deviceId) => d.directory.nodeOf(deviceId),
        servesDevice: (deviceId) => d.router.localDevices().some((x) => x.device_id === deviceId),
        link: {
          send: (nodeId, frame) => this.upLink(nodeId)?.conn.send(frame),
          sendData: (nodeId, id, offset, data) => this.upLink(nodeId)?.conn.sendBlobData(id, offset, data),
          buffered: (nodeId) => this.upLink(nodeId)?.conn.buffered ?? 0,
          isUp: (nodeId) => this.upLink(nodeId) !== undefined,
          upNodes: () => [...this.peers.keys()].filter((id) => this.upLink(id) !== undefined),
        },
      });
  }

  /** The link to `nodeId` when it is up and carries the pairing. */
  private upLink(nodeId: string): Link | undefined {
    const st = this.peers.get(nodeId);
    return st?.up && st.link?.mode === 'pairing' && !st.link.conn.closed ? st.link : undefined;
  }

  /** The home directory this service keeps (what the router reads as HomeDirectory). */
  get homeDirectory(): HomeDirectoryStore {
    return this.d.directory;
  }

  /** A prekey bundle for `deviceId` from the home desktop `nodeId` that serves it (peer_unreachable: link down or no answer). */
  claimPrekeys(nodeId: string, deviceId: string): Promise<PeerClaimResult> {
    return this.prekeyClaims.claim(nodeId, deviceId);
  }

  // ---- PeerLinks ---------------------------------------------------------------------------------------------

  isUp(nodeId: string): boolean {
    return this.peers.get(nodeId)?.reportedUp ?? false;
  }

  downSince(nodeId: string): number | undefined {
    const st = this.peers.get(nodeId);
    if (!st) return this.startedAt;
    return st.reportedUp ? undefined : st.downSince;
  }

  onLinkChange(fn: (nodeId: string, up: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  start(): void {
    if (this.started) return;
    this.started = true;
    this.cleanups.push(
      this.d.router.onQueuedForPeer((nodeId) => this.pump(nodeId)),
      this.d.router.onLocalDevicesChanged(() => this.broadcastDirectory()),
      this.d.keyLog?.onHead((cloudKey, head) => this.broadcastKeyLogHead(cloudKey, head)) ?? (() => {}),
      this.d.feed.subscribe((e) => {
        if (e.type === 'changed') this.reconcile();
      }),
    );
    const touch = setInterval(
      () => {
        this.touchUpLinks();
        this.pruneNotices();
        this.reconcile();
      },
      Math.max(50, this.opts.touchIntervalMs),
    );
    touch.unref();
    this.cleanups.push(() => clearInterval(touch));
    this.pruneNotices();
    this.blobs?.start();
    this.reconcile();
  }

  /** Closes every link and stops dialing; call before the database closes. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.blobs?.stop();
    this.prekeyClaims.stop();
    for (const c of this.cleanups.splice(0)) c();
    for (const [nodeId, st] of this.peers) {
      if (st.timer) clearTimeout(st.timer);
      st.link?.conn.close(PEER_CLOSE.shutdown, 'shutdown');
      this.peers.delete(nodeId);
    }
    for (const l of [...this.others]) l.conn.close(PEER_CLOSE.shutdown, 'shutdown');
  }

  /**
   * Dials every live paired desktop and every undelivered unpair notice that has no link, closes links whose
   * pairing is gone (revoked, unpaired, replaced). Runs on every change of the mesh and on the touch timer.
   */
  reconcile(): void {
    if (this.stopped || !this.started) return;
    const wanted = new Set([...this.d.credentials.pairedDesktops(), ...this.d.notices.all().map((n) => n.nodeId)]);
    for (const id of wanted) this.ensureDialing(id);
    for (const [nodeId, st] of this.peers) {
      if (st.link && !this.stillValid(st.link)) st.link.conn.close(PEER_CLOSE.revoked, 'pairing_revoked');
      if (!wanted.has(nodeId) && !st.link) {
        if (st.timer) clearTimeout(st.timer);
        this.peers.delete(nodeId);
      }
    }
    for (const l of [...this.others]) if (!this.stillValid(l)) l.conn.close(PEER_CLOSE.revoked, 'pairing_revoked');
  }

  /** Unpair notices older than noticeKeepMs are given up: that desktop never came back. */
  private pruneNotices(): void {
    if (this.stopped) return;
    const cutoff = new Date(Date.now() - this.opts.noticeKeepMs).toISOString();
    for (const id of this.d.notices.pruneOlderThan(cutoff))
      this.d.log.warn({ node_id: id }, 'gave up delivering an unpair notice: the desktop never came back');
  }

  /** Sessions were revoked (unpair, logout, re-pair): links on them close at once. */
  sessionsRevoked(): void {
    this.reconcile();
  }

  /** The current link to `nodeId` (diagnostics, tests): who dialed it, on which pairing, in which mode. */
  linkInfo(nodeId: string): { dialedBySelf: boolean; sessionId: string; mode: LinkMode; up: boolean; inflight: number } | undefined {
    const st = this.peers.get(nodeId);
    const l = st?.link;
    return l && { dialedBySelf: l.dialedBySelf, sessionId: l.sessionId, mode: l.mode, up: st.up, inflight: l.inflight.size };
  }

  /** Drops the current link to `nodeId` (it is dialed again with the usual backoff): a network change, tests. */
  reconnect(nodeId: string): void {
    this.peers.get(nodeId)?.link?.conn.close(PEER_CLOSE.protocol, 'reconnect');
  }

  /** This node was renamed: every up link hears it. */
  renamed(name: string): void {
    for (const st of this.peers.values()) if (st.link?.helloSent && st.link.mode === 'pairing') st.link.conn.send({ type: 'node', name });
  }

  /**
   * Called by MeshService.unpair BEFORE it removes the pairing: the credentials are kept as an unpair notice
   * (sealed) until the peer acknowledged `unpair`; an up link delivers it now, else the dialer does later.
   */
  unpairing(nodeId: string): void {
    const creds = this.d.credentials.forNode(nodeId);
    this.d.directory.forget(nodeId);
    // The desktop leaves nodes() even when it announced nothing.
    this.d.directory.changed();
    if (!creds) return;
    const row = this.d.mesh.get(nodeId);
    this.d.notices.save({
      nodeId,
      sessionId: creds.sessionId,
      sharedKey: creds.serverHmacKey,
      publicKey: row?.publicKey ?? '',
      port: row?.port ?? null,
      addresses: [...(row?.addresses ?? []), ...(row?.hostname ? [row.hostname] : [])],
    });
    const st = this.peers.get(nodeId);
    const link = st?.link;
    this.setDown(nodeId);
    if (link?.conn.established && link.sessionId === creds.sessionId) {
      link.mode = 'notice';
      this.sendUnpair(link);
    } else {
      link?.conn.close(PEER_CLOSE.revoked, 'pairing_revoked');
    }
  }

  /** The listener side: a dialer named pairing `sessionId` (route pre-check: is it one we know?). */
  knowsSession(sessionId: string): boolean {
    return this.d.credentials.forSession(sessionId) !== undefined || this.d.notices.all().some((n) => n.sessionId === sessionId);
  }

  /** An unpair notice for `nodeId` is still waiting to be delivered (diagnostics, tests). */
  hasUnpairNotice(nodeId: string): boolean {
    return this.d.notices.get(nodeId) !== undefined;
  }

  /** The listener side: an upgraded socket for pairing `sessionId`. Returns the hooks the route feeds. */
  accept(
    socket: LinkSocket,
    sessionId: string,
    address: string | undefined,
    features?: string,
  ): { receive(d: Uint8Array | string): void; closed(code: number, reason: string): void } {
    const self = this.d.self();
    const creds = this.d.credentials.forSession(sessionId);
    const notice = creds ? undefined : this.d.notices.all().find((n) => n.sessionId === sessionId);
    const nodeId = creds?.nodeId ?? notice?.nodeId;
    let peerKey: Uint8Array | undefined = creds?.peerPublicKey;
    if (!peerKey && notice) {
      try {
        peerKey = fromBase64Url(notice.publicKey);
      } catch {
        peerKey = undefined;
      }
    }
    const hmac = creds?.serverHmacKey ?? notice?.sharedKey;
    if (this.stopped || !nodeId || !peerKey || peerKey.length !== 32 || !hmac) {
      try {
        socket.close(PEER_CLOSE.revoked, 'pairing_unknown');
      } catch {
        /* gone */
      }
      return { receive: () => {}, closed: () => {} };
    }
    const handshake = peerLinkHandshake({
      dialer: false,
      sessionId,
      selfNodeId: self.nodeId,
      peerNodeId: nodeId,
      staticKey: self,
      peerPublicKey: peerKey,
      serverHmacKey: hmac,
    });
    let link: Link | undefined;
    const conn = new PeerConnection(
      socket,
      handshake,
      false,
      {
        onEstablished: (c) => {
          link = this.newLink(c, nodeId, sessionId, false, address, creds ? 'pairing' : 'notice', featuresOf(features));
          this.adopt(link);
        },
        onFrame: (_c, f) => {
          if (link) this.onFrame(link, f);
        },
        onClosed: (_c, code, reason) => {
          if (link) this.onClosed(link, code, reason);
        },
      },
      this.opts.attemptTimeoutMs,
    );
    return { receive: (d) => conn.receive(d), closed: (code, reason) => conn.socketClosed(code, reason) };
  }

  // ---- dialing -----------------------------------------------------------------------------------------------

  private state(nodeId: string): PeerState {
    let st = this.peers.get(nodeId);
    if (!st) {
      st = {
        link: undefined,
        up: false,
        reportedUp: false,
        downSince: this.startedAt,
        dialing: false,
        timer: undefined,
        backoff: new Backoff({ baseMs: this.opts.backoffBaseMs, capMs: this.opts.backoffCapMs }),
      };
      this.peers.set(nodeId, st);
    }
    return st;
  }

  private ensureDialing(nodeId: string): void {
    if (this.stopped) return;
    const st = this.state(nodeId);
    if (st.link || st.dialing || st.timer) return;
    st.timer = setTimeout(() => {
      st.timer = undefined;
      void this.dial(nodeId);
    }, st.backoff.next());
    st.timer.unref();
  }

  /** Dials `nodeId` now even while a link is up (the tie-break decides which link stays): diagnostics, tests. */
  redial(nodeId: string): Promise<void> {
    return this.dial(nodeId, true);
  }

  private async dial(nodeId: string, evenIfLinked = false): Promise<void> {
    const st = this.peers.get(nodeId);
    if (!st || this.stopped || (st.link && !evenIfLinked) || st.dialing) return;
    const self = this.d.self();
    const notice = this.d.notices.get(nodeId);
    const creds = notice ? undefined : this.d.credentials.forNode(nodeId);
    const row = this.d.mesh.get(nodeId);
    const port = notice?.port ?? row?.port;
    let peerKey = creds?.peerPublicKey;
    if (!peerKey && notice) {
      try {
        peerKey = fromBase64Url(notice.publicKey);
      } catch {
        peerKey = undefined;
      }
    }
    const sessionId = notice?.sessionId ?? creds?.sessionId;
    const hmac = notice?.sharedKey ?? creds?.serverHmacKey;
    if (!sessionId || !hmac || !peerKey || peerKey.length !== 32 || !port) return;
    // IPv6 link-local addresses need a zone id a URL cannot carry portably: not worth an attempt.
    const hosts = [...new Set([...(notice?.addresses ?? row?.addresses ?? []), ...(row?.hostname ? [row.hostname] : [])])].filter(
      (h) => h.length > 0 && !/^fe[89ab][0-9a-f]:/i.test(h),
    );
    st.dialing = true;
    try {
      for (const host of hosts) {
        if (this.stopped || (st.link && !evenIfLinked)) return;
        let link: Link | undefined;
        try {
          await dialPeer({
            host,
            port,
            sessionId,
            timeoutMs: this.opts.attemptTimeoutMs,
            pingIntervalMs: this.opts.pingIntervalMs,
            handshake: peerLinkHandshake({
              dialer: true,
              sessionId,
              selfNodeId: self.nodeId,
              peerNodeId: nodeId,
              staticKey: self,
              peerPublicKey: peerKey,
              serverHmacKey: hmac,
            }),
            events: {
              onEstablished: (c) => {
                link = this.newLink(c, nodeId, sessionId, true, host, notice ? 'notice' : 'pairing');
                if (this.stopped) c.close(PEER_CLOSE.shutdown, 'shutdown');
                else this.adopt(link);
              },
              onFrame: (_c, f) => {
                if (link) this.onFrame(link, f);
              },
              onClosed: (_c, code, reason) => {
                if (link) this.onClosed(link, code, reason);
              },
            },
          });
          return;
        } catch (err) {
          this.d.log.debug({ node_id: nodeId, host, err: (err as Error).message }, 'peer link dial failed on this address');
        }
      }
    } finally {
      st.dialing = false;
      if (!st.link) this.ensureDialing(nodeId);
    }
  }

  private newLink(
    conn: PeerConnection,
    nodeId: string,
    sessionId: string,
    dialedBySelf: boolean,
    address: string | undefined,
    mode: LinkMode,
    peerFeatures: Set<string> = new Set(),
  ): Link {
    return {
      conn,
      nodeId,
      sessionId,
      dialedBySelf,
      address,
      mode,
      peerFeatures,
      helloSent: false,
      helloReceived: false,
      inflight: new Map(),
      cursor: 0,
      unacked: 0,
      queued: 0,
      chain: Promise.resolve(),
      pumping: false,
    };
  }

  /**
   * A link finished its handshake. One link per pair: when there already is one, the link dialed by the smaller
   * node id stays (both sides apply the same rule, so they keep the same one); between two dialed by the same
   * side, the newer (the old one is likely half-dead).
   */
  private adopt(link: Link): void {
    const st = this.state(link.nodeId);
    const cur = st.link;
    if (cur && cur !== link) {
      const self = this.d.self().nodeId;
      // biome-ignore lint/complexity/useMathMinMax: node ids are strings; this picks the lexically smaller one (Math.min would give NaN)
      const preferredDialer = self < link.nodeId ? self : link.nodeId;
      const dialerOf = (l: Link) => (l.dialedBySelf ? self : l.nodeId);
      if (dialerOf(cur) === preferredDialer && dialerOf(link) !== preferredDialer) {
        link.conn.close(PEER_CLOSE.duplicate, 'duplicate_link');
        return;
      }
      st.link = undefined;
      // The new link is up once its hellos are through; until then nothing is pumped on it.
      st.up = false;
      this.others.add(cur);
      cur.conn.close(PEER_CLOSE.duplicate, 'duplicate_link');
    }
    st.link = link;
    if (st.timer) {
      clearTimeout(st.timer);
      st.timer = undefined;
    }
    if (link.mode === 'notice') {
      this.sendUnpair(link);
      return;
    }
    const me = this.d.self();
    // A dialer that named features is told ours (an older one names none, and would refuse the field).
    const features = link.peerFeatures.size > 0 ? { features: [...PEER_LINK_FEATURES] } : {};
    link.conn.send({ type: 'hello', node_id: me.nodeId, name: me.name, devices: this.announced(link), ...features });
    link.helloSent = true;
    this.maybeUp(link);
  }

  // ---- frames ------------------------------------------------------------------------------------------------

  private onFrame(link: Link, frame: PeerFrame | BlobData): void {
    if (link.conn.closed) return;
    if (isBlobTraffic(frame)) {
      this.onBlobFrame(link, frame);
      return;
    }
    if (isPrekeyFrame(frame)) {
      // Answered at once from the store (synchronous SQLite), beside the envelope chain like the file frames.
      if (!link.helloReceived) throw new LinkError(PEER_CLOSE.protocol, 'hello_first', 'the first frame must be hello');
      if (link.mode === 'pairing' && this.upLink(link.nodeId) === link) this.prekeyClaims.handle(link.nodeId, frame);
      return;
    }
    if (frame.type === 'envelope' || frame.type === 'seen') {
      if (++link.unacked > this.opts.window)
        throw new LinkError(PEER_CLOSE.flood, 'window_exceeded', `more than ${this.opts.window} unacked frames`);
    }
    // What a well-behaved peer can have waiting here at once: its envelope/seen frames (at most a window, checked
    // above) AND its acks for ours (at most our window in flight), plus a few others.
    if (++link.queued > 2 * this.opts.window + QUEUE_SLACK) throw new LinkError(PEER_CLOSE.flood, 'queue_full', 'too many frames waiting');
    // Each frame's work starts now, in arrival order, so the commits of every frame of this turn go into one
    // group commit (one fsync) instead of one commit per frame one after the other. Replies (acks) go out through
    // `chain`, so in frame order and only after every earlier frame settled: after a failure the link is closed
    // and no later frame is acked (the peer resends them, in order, on the next link; the receiver dedups by id).
    const done = (reply: (() => void) | undefined): void => {
      link.queued--;
      if (reply && !link.conn.closed) reply();
    };
    const failed = (err: unknown): void => {
      link.queued--;
      if (link.conn.closed) return;
      if (err instanceof LinkError) link.conn.close(err.closeCode, err.error, err.message);
      else {
        this.d.log.warn(
          { node_id: link.nodeId, err: (err as Error).message, frame: frame.type },
          'peer link frame failed; closing the link',
        );
        link.conn.close(PEER_CLOSE.protocol, 'internal_error');
      }
    };
    let work: Promise<(() => void) | undefined>;
    try {
      work = this.handle(link, frame);
    } catch (err) {
      failed(err);
      return;
    }
    link.chain = link.chain.then(() => work).then(done, failed);
  }

  /**
   * Files go beside the envelopes, not through their chain: a disk write of blob bytes never holds up an ack.
   * The transfer bounds what a peer can make us hold (its reads, our reads) and throws LinkError on a broken peer.
   */
  private onBlobFrame(link: Link, frame: BlobFrame | BlobData): void {
    if (!this.blobs || link.mode !== 'pairing' || !link.helloReceived || this.upLink(link.nodeId) !== link) {
      if (!link.helloReceived) link.conn.close(PEER_CLOSE.protocol, 'hello_first', 'the first frame must be hello');
      return;
    }
    const fail = (err: unknown) => {
      if (link.conn.closed) return;
      if (err instanceof LinkError) link.conn.close(err.closeCode, err.error, err.message);
      else {
        this.d.log.warn(
          { node_id: link.nodeId, err: (err as Error).message, frame: frame.type },
          'peer link file frame failed; closing the link',
        );
        link.conn.close(PEER_CLOSE.protocol, 'internal_error');
      }
    };
    try {
      void this.blobs.handle(link.nodeId, frame).catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /**
   * Does a frame's work; what must go back to the peer (an ack) is returned as a reply, which onFrame sends in
   * frame order once every earlier frame has settled.
   */
  private async handle(link: Link, f: PeerFrame): Promise<(() => void) | undefined> {
    if (f.type === 'error') {
      this.d.log.info({ node_id: link.nodeId, error: f.error, message: f.message }, 'the peer reported an error on the link');
      return;
    }
    if (f.type === 'unpair') {
      this.receivedUnpair(link);
      return;
    }
    if (f.type === 'unpair_ack') {
      link.unpairAcked?.();
      return;
    }
    if (link.mode !== 'pairing') return;
    if (f.type === 'hello') {
      if (f.node_id !== link.nodeId)
        throw new LinkError(PEER_CLOSE.protocol, 'node_mismatch', 'hello from another node id than the pairing');
      link.helloReceived = true;
      this.applyName(link.nodeId, f.name);
      this.applyDirectory(link, f.devices);
      if (link.dialedBySelf && f.features?.length) {
        // Our hello went before we knew: what only this listener takes follows in a directory frame.
        link.peerFeatures = featuresOf(f.features);
        if (link.peerFeatures.has(PEER_FEATURE_REPLACES) && this.d.router.localReplacements().size > 0)
          link.conn.send({ type: 'directory', devices: this.announced(link) });
      }
      this.maybeUp(link);
      return;
    }
    if (!link.helloReceived) throw new LinkError(PEER_CLOSE.protocol, 'hello_first', 'the first frame must be hello');
    switch (f.type) {
      case 'directory':
        this.applyDirectory(link, f.devices);
        return;
      case 'node':
        this.applyName(link.nodeId, f.name);
        return;
      case 'key_log_head':
        // Checked beside the frame chain: it asks our cloud for a proof, and nothing waits for it.
        void this.d.keyLog?.fromPeer(link.nodeId, f.cloud_key, f.head);
        return;
      case 'envelope': {
        // The peer may only relay envelopes of its own devices: anything else is refused and never stored.
        if (this.d.directory.nodeOf(f.envelope.from_device) !== link.nodeId) {
          throw new LinkError(
            PEER_CLOSE.refused,
            'sender_not_peer_device',
            `from_device ${f.envelope.from_device} is not one of the peer's devices`,
          );
        }
        const { refused } = await this.d.router.storeFromPeer(link.nodeId, f.envelope);
        return () => this.ack(link, f.seq, refused);
      }
      case 'seen':
        await this.d.router.seenFromPeer(link.nodeId, f.id, f.device_ids);
        return () => this.ack(link, f.seq, []);
      case 'ack': {
        const item = link.inflight.get(f.seq);
        if (!item) return;
        await this.d.router.peerAcked(link.nodeId, { seq: item.seq, kind: item.kind, id: item.id }, f.refused);
        link.inflight.delete(f.seq);
        this.pumpLink(link);
        return;
      }
    }
  }

  private ack(link: Link, seq: number, refused: string[]): void {
    link.unacked--;
    link.conn.send({
      type: 'ack',
      seq,
      ...(refused.length > 0 ? { refused: { device_ids: refused.slice(0, 32), error: 'recipient_backlog_full' as const } } : {}),
    });
  }

  private applyName(nodeId: string, name: string): void {
    const row = this.d.mesh.get(nodeId);
    if (!row || row.name === name) return;
    this.d.mesh.upsertPeer({ id: nodeId, name, kind: row.kind });
    this.d.directory.changed();
    this.d.feed.changed();
  }

  private applyDirectory(link: Link, devices: AnnouncedDevice[]): void {
    // Ours: the devices we announce, this node, and every device or desktop paired with us (a phone that has no
    // messaging key yet is not announced, but it is still ours to serve, not the peer's).
    const local = new Set(this.d.router.localDevices().map((d) => d.device_id));
    local.add(this.d.self().nodeId);
    for (const row of this.d.mesh.peers()) local.add(row.id);
    const refused = this.d.directory.announce(link.nodeId, devices, local);
    if (refused.length > 0) {
      this.d.log.warn({ node_id: link.nodeId, refused }, 'peer announced device ids it does not own: refused');
      link.conn.send({
        type: 'error',
        error: 'device_claimed',
        message: `refused device ids served elsewhere: ${refused.slice(0, 8).join(', ')}`,
      });
    }
  }

  /**
   * What we announce on `link`: our devices, at most as many as a peer takes in one frame; with the ids each
   * replaced when re-paired, to a peer that speaks that.
   */
  private announced(link: Link, local = this.localAnnouncement()): AnnouncedDevice[] {
    return link.peerFeatures.has(PEER_FEATURE_REPLACES) ? local.withReplaces : local.plain;
  }

  /** Our devices as announced, read once for every link: as older nodes take them, and with replaced ids. */
  private localAnnouncement(): { plain: AnnouncedDevice[]; withReplaces: AnnouncedDevice[] } {
    const plain = this.d.router.localDevices().slice(0, MAX_ANNOUNCED_DEVICES);
    const replaced = this.d.router.localReplacements();
    const withReplaces = plain.map((d) => {
      const ids = replaced.get(d.device_id);
      return ids?.length ? { ...d, replaces: [...ids] } : d;
    });
    return { plain, withReplaces };
  }

  private broadcastDirectory(): void {
    const local = this.localAnnouncement();
    for (const st of this.peers.values())
      if (st.link?.helloSent && st.link.mode === 'pairing')
        st.link.conn.send({ type: 'directory', devices: this.announced(st.link, local) });
  }

  private sendKeyLogHead(link: Link, cloudKey: string, head: KeyLogHead): void {
    if (link.peerFeatures.has(PEER_FEATURE_KEY_LOG) && link.mode === 'pairing')
      link.conn.send({ type: 'key_log_head', cloud_key: cloudKey, head });
  }

  private broadcastKeyLogHead(cloudKey: string, head: KeyLogHead): void {
    for (const st of this.peers.values()) if (st.up && st.link) this.sendKeyLogHead(st.link, cloudKey, head);
  }

  // ---- outbox pump -------------------------------------------------------------------------------------------

  private pump(nodeId: string): void {
    const link = this.peers.get(nodeId)?.link;
    if (link) this.pumpLink(link);
  }

  /** Sends outbox rows past the cursor while fewer than `window` are unacked. */
  private pumpLink(link: Link): void {
    const st = this.peers.get(link.nodeId);
    if (!st?.up || st.link !== link || link.mode !== 'pairing' || link.pumping) return;
    link.pumping = true;
    try {
      while (link.inflight.size < this.opts.window && !link.conn.closed) {
        const items = this.d.router.pendingForPeer(link.nodeId, link.cursor, this.opts.window - link.inflight.size);
        if (items.length === 0) break;
        for (const item of items) {
          link.cursor = Math.max(link.cursor, item.seq);
          link.inflight.set(item.seq, item);
          if (item.kind === 'envelope') link.conn.send({ type: 'envelope', seq: item.seq, envelope: JSON.parse(item.json) });
          else link.conn.send({ type: 'seen', seq: item.seq, id: item.id, device_ids: item.deviceIds });
        }
      }
    } finally {
      link.pumping = false;
    }
  }

  // ---- presence ----------------------------------------------------------------------------------------------

  private maybeUp(link: Link): void {
    const st = this.peers.get(link.nodeId);
    if (!st || st.link !== link || !link.helloSent || !link.helloReceived || st.up) return;
    st.up = true;
    st.backoff.reset();
    this.d.mesh.touch(link.nodeId, link.address ? [link.address] : []);
    this.d.log.info({ node_id: link.nodeId, dialed_by_self: link.dialedBySelf }, 'peer link up');
    if (!st.reportedUp) {
      st.reportedUp = true;
      this.emit(link.nodeId, true);
    } else {
      this.d.feed.changed();
    }
    this.pumpLink(link);
    const kept = this.d.keyLog?.current();
    if (kept) this.sendKeyLogHead(link, kept.cloudKey, kept.head);
    // Whatever an earlier link had asked for is void: this one starts over (from the bytes already stored).
    this.blobs?.linkDown(link.nodeId);
    this.blobs?.linkUp(link.nodeId);
  }

  private setDown(nodeId: string): void {
    const st = this.peers.get(nodeId);
    if (!st) return;
    st.up = false;
    if (!st.reportedUp) return;
    st.reportedUp = false;
    st.downSince = Date.now();
    this.d.mesh.markOffline(nodeId);
    this.d.log.info({ node_id: nodeId }, 'peer link down');
    this.emit(nodeId, false);
  }

  private emit(nodeId: string, up: boolean): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(nodeId, up);
      } catch {
        /* one broken listener must not stop the others */
      }
    }
    this.d.directory.changed();
    this.d.feed.changed();
  }

  private touchUpLinks(): void {
    let any = false;
    for (const [nodeId, st] of this.peers) if (st.up) any = this.d.mesh.touch(nodeId, []) || any;
    if (any) this.d.feed.changed();
  }

  private onClosed(link: Link, code: number, reason: string): void {
    this.others.delete(link);
    link.unpairAcked?.();
    const st = this.peers.get(link.nodeId);
    if (!st || st.link !== link) return;
    st.link = undefined;
    this.blobs?.linkDown(link.nodeId);
    this.prekeyClaims.linkDown(link.nodeId);
    this.d.log.info({ node_id: link.nodeId, code, reason }, 'peer link closed');
    this.setDown(link.nodeId);
    if (!this.stopped) this.ensureDialing(link.nodeId);
  }

  private stillValid(link: Link): boolean {
    if (link.mode === 'ending') return true;
    if (link.mode === 'notice') return this.d.notices.all().some((n) => n.nodeId === link.nodeId && n.sessionId === link.sessionId);
    const creds = this.d.credentials.forSession(link.sessionId);
    return creds?.nodeId === link.nodeId;
  }

  // ---- unpair ------------------------------------------------------------------------------------------------

  /** Sends `unpair`, waits for the ack (bounded), then drops the notice and closes. No ack: the notice stays. */
  private sendUnpair(link: Link): void {
    const acked = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.opts.unpairAckTimeoutMs);
      timer.unref();
      link.unpairAcked = () => {
        clearTimeout(timer);
        resolve(!link.conn.closed);
      };
    });
    link.conn.send({ type: 'unpair' });
    void acked.then((ok) => {
      if (ok) {
        this.d.notices.remove(link.nodeId);
        this.d.log.info({ node_id: link.nodeId }, 'the other desktop took our unpair');
        link.mode = 'ending';
        link.conn.close(PEER_CLOSE.unpaired, 'unpaired');
        const st = this.peers.get(link.nodeId);
        if (st && !st.link) {
          if (st.timer) clearTimeout(st.timer);
          this.peers.delete(link.nodeId);
        }
      } else {
        link.conn.close(PEER_CLOSE.protocol, 'unpair_not_acked');
      }
    });
  }

  /**
   * The peer unpaired us. Its credentials are never used again: its sessions are revoked, our session on it
   * (peer_links) and what it announced are dropped, the row stays marked so the person reads why.
   */
  private receivedUnpair(link: Link): void {
    const nodeId = link.nodeId;
    const row = this.d.mesh.get(nodeId);
    link.mode = 'ending';
    if (this.d.notices.remove(nodeId)) {
      // Both sides unpaired: nothing left to mark.
    } else if (row && !row.endedByPeerAt) {
      this.d.mesh.markEndedByPeer(nodeId);
      this.d.noticeBoard.add({ type: 'peer_unpaired', name: row.name, node_id: nodeId });
    }
    this.setDown(nodeId);
    this.d.sessions.revokeAllFor(nodeId);
    this.d.links.remove(nodeId);
    this.d.directory.forget(nodeId);
    this.d.directory.changed();
    this.d.log.warn({ node_id: nodeId }, 'the other desktop unpaired this one');
    link.conn.send({ type: 'unpair_ack' });
    link.conn.close(PEER_CLOSE.unpaired, 'unpaired');
    this.d.feed.changed();
  }
}
