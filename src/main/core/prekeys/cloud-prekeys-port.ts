// The seam between the node's prekey directory and the cloud link. The node hands out the one-time prekeys of
// its devices to its home (its own devices and its home desktops' over the peer link); devices of other homes
// claim at the cloud. So a share of every device's one-time prekeys moves to the cloud, and a claim for a device
// of another home is sent there. A one-time prekey is at one place only: it is marked as moving before it is
// sent and removed here once the cloud holds it, so neither place can hand it out after the other did.
import type { PrekeyBundle, PrekeyStatus, PublishPrekeysRequest } from '../../../shared/wire/prekeys.js';

export type CloudClaim = { ok: true; bundle: PrekeyBundle } | { ok: false; error: 'no_prekeys' | 'unknown_recipient' };

export interface CloudPrekeysPort {
  /** Logged in to a cloud now (one-time prekeys may move there; devices of other homes can be claimed). */
  available(): boolean;
  /**
   * Stores at the cloud, for a device this node serves and has published to the cloud's key directory. Idempotent:
   * keys the cloud already holds with the same public key are accepted again. Throws the cloud link's
   * CloudCallError (unreachable, or rejected with the cloud's status and code).
   */
  publish(deviceId: string, request: PublishPrekeysRequest): Promise<PrekeyStatus>;
  /** A bundle for a device of another home (its one-time prekey now gone from the cloud). Throws CloudCallError. */
  claim(deviceId: string): Promise<CloudClaim>;
}
