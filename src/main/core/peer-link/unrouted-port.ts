// A PeerLinkRouterPort for a node without the router: nothing to send, no local devices to announce, and every
// envelope from a peer refused for each recipient (nothing stored, the sender is told). The node wires the real
// router in its place; tests use their own fakes.
import type { PeerLinkRouterPort } from '../routing/ports.js';

export const UNROUTED_PORT: PeerLinkRouterPort = {
  pendingForPeer: () => [],
  onQueuedForPeer: () => () => {},
  peerAcked: async () => {},
  storeFromPeer: async (_nodeId, envelope) => ({ refused: [...envelope.to] }),
  seenFromPeer: async () => {},
  localDevices: () => [],
  localReplacements: () => new Map(),
  onLocalDevicesChanged: () => () => {},
};
