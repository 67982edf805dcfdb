// The identities a device can compare safety numbers for, read from the messaging directory: each device it
// writes to (its identity key is its static X25519 pairing key, the directory's public_key), and each home as a
// whole. A home is one desktop's set of devices: this device's own node (this device and the devices it serves)
// against another desktop's (the devices that desktop serves, or, for another home, published to the cloud).
// Both sides list the same two sets when their directories agree, so both compute the same 60 digits; a device
// added to or gone from either set changes the number, which is the point (docs/e2ee.md "Safety numbers").
import { fromBase64Url } from '../../../../shared/encoding.js';
import { type SafetyNumber, safetyNumber } from '../../../../shared/ratchet/safety-number.js';
import type { MessagingDirectory } from '../../../../shared/wire/relay.js';
import { type PeerTrust, sendingBlocked } from './trust-book.js';

export interface Me {
  device_id: string;
  publicKey: Uint8Array;
}

export interface HomeIdentity {
  /** The trust book's id of the home: `home:<node_id>`. */
  id: string;
  node_id: string;
  /** Its devices' identity keys, base64url, sorted. */
  keys: string[];
  /** What the trust book holds as the home's key: those keys joined. */
  trustKey: string;
}

export const homeTrustId = (nodeId: string) => `home:${nodeId}`;

/** This device's own node: the self entry of the directory's desktops. */
function selfNodeId(dir: MessagingDirectory): string | undefined {
  return dir.nodes.find((n) => n.self)?.node_id;
}

function devicesOf(dir: MessagingDirectory, nodeId: string): string[] {
  return dir.devices.filter((d) => d.node_id === nodeId).map((d) => d.public_key);
}

/** The home (another desktop's devices) a device belongs to; undefined for a device of this node. */
export function homeOf(dir: MessagingDirectory, deviceId: string): HomeIdentity | undefined {
  const d = dir.devices.find((x) => x.device_id === deviceId);
  const self = selfNodeId(dir);
  if (!d?.node_id || d.node_id === self || d.home === 'local') return undefined;
  const keys = devicesOf(dir, d.node_id).sort();
  return { id: homeTrustId(d.node_id), node_id: d.node_id, keys, trustKey: keys.join(',') };
}

/**
 * Every identity the trust book follows: each device by its id (with the older ids it replaced, if its desktop
 * says so), each other home by `home:<node_id>`.
 */
export function directoryIdentities(dir: MessagingDirectory): [string, string, string[]?][] {
  const out: [string, string, string[]?][] = dir.devices
    .filter((d) => d.device_id !== dir.me)
    .map((d) => (d.replaces?.length ? [d.device_id, d.public_key, d.replaces] : [d.device_id, d.public_key]));
  const homes = new Set<string>();
  for (const d of dir.devices) {
    const h = homeOf(dir, d.device_id);
    if (h && !homes.has(h.id)) {
      homes.add(h.id);
      out.push([h.id, h.trustKey]);
    }
  }
  return out;
}

/** Our safety number with one device (stable ids: the device ids). */
export function deviceSafetyNumber(me: Me, peer: { device_id: string; public_key: string }): SafetyNumber {
  return safetyNumber(
    { identityKey: me.publicKey, stableId: me.device_id },
    { identityKey: fromBase64Url(peer.public_key), stableId: peer.device_id },
  );
}

/** Our home's safety number with another home (stable ids: the two desktops' node ids). */
export function homeSafetyNumber(dir: MessagingDirectory, me: Me, home: HomeIdentity): SafetyNumber | undefined {
  const self = selfNodeId(dir);
  if (!self) return undefined;
  // Our node's devices as the directory lists them, and this device itself (the directory leaves it out).
  const ours = [
    me.publicKey,
    ...dir.devices
      .filter((d) => d.device_id !== me.device_id && (d.home === 'local' || d.node_id === self))
      .map((d) => fromBase64Url(d.public_key)),
  ];
  return safetyNumber({ identityKey: ours, stableId: self }, { identityKey: home.keys.map(fromBase64Url), stableId: home.node_id });
}

/** Sending to `deviceId` waits: its verified key, or its home's verified set, changed and was not accepted yet. */
export function trustBlocks(
  trust: { of(id: string): PeerTrust | undefined },
  dir: MessagingDirectory | undefined,
  deviceId: string,
): boolean {
  if (sendingBlocked(trust.of(deviceId))) return true;
  const home = dir ? homeOf(dir, deviceId) : undefined;
  return home !== undefined && sendingBlocked(trust.of(home.id));
}

/**
 * Sending to `peer` waits: for a device, as trustBlocks; for a group (`members`, its other devices), as soon as
 * one member's verified key changed and was not accepted (the message would reach that device too).
 */
export function trustBlocksConversation(
  trust: { of(id: string): PeerTrust | undefined },
  dir: MessagingDirectory | undefined,
  peer: string,
  members?: readonly string[],
): boolean {
  return members ? members.some((id) => trustBlocks(trust, dir, id)) : trustBlocks(trust, dir, peer);
}
