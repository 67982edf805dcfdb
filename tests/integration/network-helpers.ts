// Helpers for the network tests: made-up interface tables, a fake discovery object that the node
// drives like the mDNS module, and phones with chosen device_info.
import { EventEmitter } from 'node:events';
import type { NetworkInterfaceInfo } from 'node:os';
import { x25519 } from '@noble/curves/ed25519.js';
import { v7 as uuidv7 } from 'uuid';
import type { InterfaceTable } from '../../src/main/core/net/lan-addresses.js';
import type { Discovery, DiscoveryStatus } from '../../src/main/core/node.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import type { Phone } from '../helpers/test-node.js';

/**
 * An interface table from `{ name: [addresses] }`, read on every call (so a test can change it). `lo` is always
 * there (internal); an address with a ':' is IPv6.
 */
export function fakeInterfaces(spec: Record<string, string[]>): { table: () => InterfaceTable; spec: Record<string, string[]> } {
  const table = (): InterfaceTable => {
    const out: InterfaceTable = {
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    };
    for (const [name, addrs] of Object.entries(spec)) {
      out[name] = addrs.map(
        (address): NetworkInterfaceInfo =>
          address.includes(':')
            ? {
                address,
                netmask: 'ffff:ffff:ffff:ffff::',
                family: 'IPv6',
                mac: '02:00:00:00:00:01',
                internal: false,
                cidr: `${address}/64`,
                scopeid: 0,
              }
            : { address, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: `${address}/24` },
      );
    }
    return out;
  };
  return { table, spec };
}

/** Stands in for the mDNS module: records what the node asks of it and lets the test emit what mDNS would hear. */
export class FakeDiscovery extends EventEmitter implements Discovery {
  running = false;
  addressCalls: string[][] = [];

  async start(): Promise<void> {
    this.running = true;
  }
  async stop(): Promise<void> {
    this.running = false;
  }
  peers() {
    return [];
  }
  async rename(_name: string): Promise<void> {}
  setAddresses(addresses: string[]): void {
    this.addressCalls.push([...addresses]);
  }
  status(): DiscoveryStatus {
    return { running: this.running, instance_name: 'Fake (12345678)', advertised_addresses: this.addressCalls.at(-1) ?? [], discovered: 0 };
  }
}

/** A phone with chosen key material, node_id, name and device_info (for the re-pair rules). */
export function customPhone(opts: { name: string; nodeId?: string; platform?: string; keyFrom?: Phone }): Phone {
  const privateKey = opts.keyFrom?.privateKey ?? x25519.utils.randomSecretKey();
  const publicKey = x25519.getPublicKey(privateKey);
  const identity = {
    node_id: opts.nodeId ?? `phone-${uuidv7()}`,
    name: opts.name,
    capabilities: ['posting'],
    device_info: { platform: opts.platform ?? 'web', app_version: '1.0.0' },
    public_key: toBase64Url(publicKey),
  };
  return { privateKey, publicKey, identity, pairing: { privateKey, publicKey, payload: identity } };
}

/**
 * Stands in for the node's self-connection check on made-up interfaces (their addresses are not on this machine):
 * every address answers. Tests about reachability itself use the real check with loopback stand-ins instead.
 */
export const everyAddressAnswers = async (addresses: string[]) => addresses.map((address) => ({ address, ok: true }));
