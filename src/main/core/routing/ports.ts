// The seams of the router: what the peer-link service (routing between paired desktops) and the router need
// from each other, and the one Transport interface behind which the three ways out of this node sit (local,
// the peer link, the cloud). The router knows transports only through this file.

import type { Envelope } from '../../../shared/e2ee/schema.js';
import type { AnnouncedDevice } from '../../../shared/wire/peer-link.js';
import type { CloudLinkStatus, DirectoryDevice, Route } from '../../../shared/wire/relay.js';

/** One outbox row for a peer link, in outbox (seq) order. */
export type PeerOutboundItem =
  | { seq: number; kind: 'envelope'; id: string; json: string }
  | { seq: number; kind: 'seen'; id: string; deviceIds: string[] };

/** The peer stored an envelope for some of our recipients but refused these (their inbox is at its cap). */
export interface PeerRefusal {
  device_ids: string[];
  error: 'recipient_backlog_full';
}

/** What the peer-link service needs from the router (implemented by R's router). */
export interface PeerLinkRouterPort {
  /** Outbox rows for peer `nodeId` (envelopes and seen receipts) with seq > afterSeq, oldest first. */
  pendingForPeer(nodeId: string, afterSeq: number, limit: number): PeerOutboundItem[];
  /** Called after rows for `nodeId` were queued (send them now). Returns an unsubscribe function. */
  onQueuedForPeer(fn: (nodeId: string) => void): () => void;
  /**
   * The peer durably took outbox row `item` (it acked): the row goes; for an envelope, its recipients served by
   * that peer become 'delivered' (route 'lan'), those in `refused` 'failed'. Resolves after the commit.
   * Unknown/already-gone rows are ignored (a resend after reconnect is acked twice).
   */
  peerAcked(nodeId: string, item: { seq: number; kind: 'envelope' | 'seen'; id: string }, refused?: PeerRefusal): Promise<void>;
  /**
   * An envelope from peer `nodeId`, already checked by the link (from_device is one of that peer's devices):
   * stored in the inbox of each of OUR local recipients in `to` (idempotent by (id, device): tombstones too),
   * origin = nodeId, pushed to their sockets after the commit. Resolves after the commit with the local
   * recipients it refused (inbox at cap). The link acks the frame only after this resolves.
   */
  storeFromPeer(nodeId: string, envelope: Envelope): Promise<{ refused: string[] }>;
  /** Peer `nodeId` says its devices `deviceIds` saw our envelope `id`: those recipients -> 'seen'. After commit. */
  seenFromPeer(nodeId: string, id: string, deviceIds: string[]): Promise<void>;
  /** This node's own devices as announced to peers (paired phones with a key + the UI device). */
  localDevices(): DirectoryDevice[];
  /** The old ids each of those devices replaced when it was re-paired (newest first; absent: none). */
  localReplacements(): ReadonlyMap<string, readonly string[]>;
  onLocalDevicesChanged(fn: () => void): () => void;
}

/** What the router needs from the peer-link service (implemented by P). */
export interface PeerLinks {
  /** The link to `nodeId` is up (handshake done, hellos exchanged). */
  isUp(nodeId: string): boolean;
  /** Since when (epoch ms) the link to a paired desktop has been down; undefined while up. A desktop never
   * connected since this node started counts as down since the node started. */
  downSince(nodeId: string): number | undefined;
  /** Link up/down events. Returns an unsubscribe function. */
  onLinkChange(fn: (nodeId: string, up: boolean) => void): () => void;
}

/** The home directory (home_devices + mesh rows), implemented by P, read by R. */
export interface HomeDirectory {
  /** The paired desktop (not ended by the peer) serving `deviceId`, if any. */
  nodeOf(deviceId: string): string | undefined;
  /** Paired desktops (not ended), by name: current name, link up?, announced devices. */
  nodes(): { node_id: string; name: string; online: boolean; devices: AnnouncedDevice[] }[];
  /** Called after any change (announce, rename, unpair, link up/down). */
  onChange(fn: () => void): () => void;
}

/**
 * One way out of this node, as the router sees it. `destination` is what an outbox row names: 'local', a paired
 * desktop's node id, or 'cloud'. Transports never touch the outbox themselves: the router commits the rows and
 * then wakes the transport, which pulls them through its own port (MessageStorePort for the cloud,
 * PeerLinkRouterPort for the peer link); local delivery happens inside the send's own commit.
 */
export interface Transport {
  readonly route: Route;
  /** It can carry an envelope to `destination` now. */
  isUp(destination: string): boolean;
  /** Since when (epoch ms) it has been unable to; undefined while up. */
  downSince(destination: string): number | undefined;
  /** Up/down (or what it knows) changed; `destination` undefined: any. Returns an unsubscribe function. */
  onChange(fn: (destination: string | undefined) => void): () => void;
  /** Rows for `destination` were committed: take them now. */
  wake(destination: string): void;
}

/** The cloud as a transport, plus what routing asks of it: is it set up at all, and whom does it know. */
export interface CloudTransportPort extends Transport {
  readonly route: 'cloud';
  /** The cloud link's status as the UI shows it. */
  status(): CloudLinkStatus;
  /** A cloud URL is set: envelopes may queue for it even while it is away. */
  configured(): boolean;
  /** The cloud's key directory (as last fetched) lists `deviceId`. */
  knows(deviceId: string): boolean;
}

/** The destination name of the cloud and of same-node delivery in outbox / sent_recipients rows. */
export const CLOUD = 'cloud';
export const LOCAL = 'local';

/** PeerLinks until the peer-link service is attached: no desktop is ever up. */
export function noPeerLinks(startedAt: number): PeerLinks {
  return { isUp: () => false, downSince: () => startedAt, onLinkChange: () => () => {} };
}

/** HomeDirectory until the peer-link service is attached: no paired desktop serves any device. */
export const NO_HOME: HomeDirectory = { nodeOf: () => undefined, nodes: () => [], onChange: () => () => {} };
