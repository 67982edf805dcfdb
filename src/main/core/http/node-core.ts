// What the HTTP routes need from the running node. Defined here, implemented by node.ts, so routes can be
// read (and tested) without the start-up wiring.
import type { Logger } from 'pino';
import type { AdminState, DesktopNode, NodeIdentityPayload, NodeIdentityResponse } from '../../../shared/wire/schemas.js';
import type { NodeTimings } from '../config.js';
import type { SessionRepository } from '../db/session-repository.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { MeshService } from '../mesh/mesh-service.js';
import type { PairingService } from '../pairing/pairing-service.js';

export interface NodeCore {
  readonly adminToken: string;
  readonly rendererDir: string | undefined;
  readonly timings: NodeTimings;
  readonly log: Logger;
  readonly feed: ChangeFeed;
  readonly pairing: PairingService;
  readonly mesh: MeshService;
  readonly sessionsRepo: SessionRepository;
  identityView(): NodeIdentityResponse;
  desktopNode(): DesktopNode;
  /** This node as a pairing peer sees it (sent in node_identity when we pair with another desktop). */
  selfPayload(): NodeIdentityPayload;
  adminState(): AdminState;
  rename(name: string): void;
}
