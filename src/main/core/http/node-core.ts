// What the HTTP routes need from the running node. Defined here, implemented by node.ts, so routes can be
// read (and tested) without the start-up wiring.
import type { Logger } from 'pino';
import type { LogBudget } from '../../../server/http/log-budget.js';
import type {
  AdminState,
  DesktopNode,
  DiagnosticsResponse,
  NodeIdentityPayload,
  NodeIdentityResponse,
  NodeSettings,
  SettingsUpdateRequest,
} from '../../../shared/wire/schemas.js';
import type { CloudLink } from '../cloud/cloud-link.js';
import type { NodeLimits, NodeTimings } from '../config.js';
import type { NonceRepository } from '../db/nonce-repository.js';
import type { SessionRepository } from '../db/session-repository.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { NoticeBoard } from '../events/notices.js';
import type { FileService } from '../files/file-service.js';
import type { MeshService } from '../mesh/mesh-service.js';
import type { MessageStore } from '../messaging/message-store.js';
import type { PairingService } from '../pairing/pairing-service.js';
import type { PeerLinkService } from '../peer-link/peer-link-service.js';
import type { PrekeyDirectory } from '../prekeys/prekey-directory.js';
import type { Router } from '../routing/router.js';
import type { DeviceSockets } from './device-sockets.js';

export interface NodeCore {
  readonly adminToken: string;
  readonly rendererDir: string | undefined;
  readonly timings: NodeTimings;
  readonly limits: NodeLimits;
  readonly log: Logger;
  /** Rate-limited lines about what the outside world does wrong (client mistakes, fd pressure). */
  readonly edgeLog: LogBudget;
  readonly feed: ChangeFeed;
  readonly pairing: PairingService;
  readonly mesh: MeshService;
  readonly sessionsRepo: SessionRepository;
  identityView(): NodeIdentityResponse;
  desktopNode(): DesktopNode;
  readonly nonces: NonceRepository;
  readonly deviceSockets: DeviceSockets;
  /** This node's static key and node_identity, for pairing with another desktop as the initiator. */
  pairingIdentity(): { privateKey: Uint8Array; publicKey: Uint8Array; payload: NodeIdentityPayload };
  adminState(): AdminState;
  rename(name: string): void;
  readonly notices: NoticeBoard;
  settings(): NodeSettings;
  /** Persists the settings and applies them at once (candidate URLs, mDNS, heartbeats). */
  updateSettings(update: SettingsUpdateRequest): Promise<NodeSettings>;
  /** Every advertised pairing base URL `http://<addr>:<port>`. */
  addressUrls(): string[];
  diagnostics(): Promise<DiagnosticsResponse>;
  /** The link to the cloud (login, relay, key directory); cloud/cloud-link.ts. */
  readonly cloud: CloudLink;
  /** The durable outbox/inbox of envelopes (messaging/message-store.ts); also the cloud link's MessageStorePort. */
  readonly messaging: MessageStore;
  /** Routes every envelope a local device sends (local / peer link / cloud); routing/router.ts. */
  readonly router: Router;
  /** Files: the blob store and its tus endpoints (files/file-service.ts). */
  readonly files: FileService;
  /** The prekey directory: publish, status and claims, here, over the peer link or at the cloud (prekeys/prekey-directory.ts). */
  readonly prekeys: PrekeyDirectory;
  /** The links to paired desktops (peer-link/peer-link-service.ts); set once the node is listening. */
  peerLinks?: PeerLinkService;
}
