// Where a prekey claim is answered (docs/e2ee.md "Prekeys and the directory"): a device this node serves from
// its own PrekeyStore, a device a home desktop serves from that desktop's store over the peer link, a device of
// another home at the cloud (CloudPrekeysPort). Whom the caller may claim for is what its messaging directory
// lists; a device's identity key is always the directory's, never the request's. Answers are results with
// stable codes; the HTTP edge (routes/prekey-routes.ts) gives them their status.
import type { PrekeyBundle, PrekeyStatus, PublishPrekeysRequest } from '../../../shared/wire/prekeys.js';
import type { DeviceHome } from '../../../shared/wire/relay.js';
import { CloudCallError } from '../cloud/cloud-api.js';
import type { PeerClaimResult } from '../peer-link/peer-prekey-claims.js';
import type { CloudPrekeysPort } from './cloud-prekeys-port.js';
import type { PrekeyStore } from './prekey-store.js';

export type ClaimRefusal = 'unknown_recipient' | 'no_prekeys' | 'peer_unreachable' | 'cloud_unreachable' | 'cloud_rejected';
export type ClaimResult = { ok: true; bundle: PrekeyBundle } | { ok: false; error: ClaimRefusal; message: string };

export interface PrekeyDirectoryDeps {
  store: PrekeyStore;
  /** The identity key of a device this node serves (its messaging public key), or undefined. */
  localKey(deviceId: string): string | undefined;
  /** `deviceId` as `me`'s messaging directory lists it (undefined: not there). */
  locate(me: string, deviceId: string): { home: DeviceHome; node_id?: string } | undefined;
  /** A claim at the home desktop `nodeId` over the peer link (undefined: no peer links running). */
  peerClaim(nodeId: string, deviceId: string): Promise<PeerClaimResult> | undefined;
  cloud: () => CloudPrekeysPort;
  /** A device of ours published: a share of its one-time prekeys may move to the cloud now. */
  published?: (deviceId: string) => void;
}

export class PrekeyDirectory {
  constructor(private readonly d: PrekeyDirectoryDeps) {}

  /** undefined: `me` has no messaging key here yet (nothing to check the signatures against). Throws PrekeyError. */
  publish(me: string, request: PublishPrekeysRequest): PrekeyStatus | undefined {
    const key = this.d.localKey(me);
    if (!key) return undefined;
    const status = this.d.store.publish(me, key, request);
    this.d.published?.(me);
    return status;
  }

  status(me: string): PrekeyStatus {
    return this.d.store.status(me);
  }

  /** What a home desktop's claim gets for a device this node serves. */
  claimLocal(deviceId: string): PrekeyBundle | 'no_prekeys' | 'unknown_recipient' {
    const key = this.d.localKey(deviceId);
    if (!key) return 'unknown_recipient';
    return this.d.store.claim(deviceId, key);
  }

  async claim(me: string, deviceId: string): Promise<ClaimResult> {
    const where = this.d.locate(me, deviceId);
    if (!where) return refused('unknown_recipient', `No device ${deviceId} in your messaging directory.`);
    if (where.home === 'local') {
      const r = this.claimLocal(deviceId);
      return typeof r === 'string' ? refusedFor(r, deviceId) : { ok: true, bundle: r };
    }
    if (where.home === 'home' && where.node_id !== undefined) {
      const asked = this.d.peerClaim(where.node_id, deviceId);
      const r = asked ? await asked : ({ ok: false, error: 'peer_unreachable' } as const);
      if (r.ok) return r;
      return r.error === 'peer_unreachable'
        ? refused('peer_unreachable', `The desktop that serves ${deviceId} did not answer; try again when it is online.`)
        : refusedFor(r.error, deviceId);
    }
    return this.claimAtCloud(deviceId);
  }

  private async claimAtCloud(deviceId: string): Promise<ClaimResult> {
    const port = this.d.cloud();
    if (!port.available()) return refused('cloud_unreachable', `${deviceId} is of another home and the cloud is not reachable now.`);
    try {
      const r = await port.claim(deviceId);
      return r.ok ? r : refusedFor(r.error, deviceId);
    } catch (err) {
      if (err instanceof CloudCallError && err.kind === 'rejected') {
        if (err.cloudError === 'no_prekeys' || err.cloudError === 'unknown_recipient') return refusedFor(err.cloudError, deviceId);
        return refused('cloud_rejected', `The cloud refused the claim (${err.cloudError}).`);
      }
      return refused('cloud_unreachable', `The cloud did not answer the claim for ${deviceId}.`);
    }
  }
}

function refused(error: ClaimRefusal, message: string): ClaimResult {
  return { ok: false, error, message };
}

function refusedFor(error: 'no_prekeys' | 'unknown_recipient', deviceId: string): ClaimResult {
  return error === 'no_prekeys'
    ? refused('no_prekeys', `${deviceId} has published no prekeys: seal to it with envelope v1.`)
    : refused('unknown_recipient', `No device ${deviceId} is known there.`);
}
