// This machine's interfaces, what kind each one is, and which addresses the node offers to other devices.
//
// Kinds (by interface name and address, Linux/macOS/Windows names): loopback (Node's `internal`), link-local
// (169.254/16, fe80::/10), container bridges (docker0, br-*, veth*, virbr*, ...), VPN tunnels (tun*, wg*, utun*,
// tailscale*, ...), everything else 'lan'. By default every 'lan' and 'vpn' address is advertised; the person may
// instead name the interfaces to advertise (settings.json). Loopback is never offered (a phone that scans
// 127.0.0.1 would talk to itself) and neither is link-local (IPv6 needs a zone id that a URL can't carry portably).
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';
import type { InterfaceKind, LanAddressView } from '../../../shared/wire/schemas.js';

export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

const CONTAINER_PREFIXES = ['docker', 'br-', 'veth', 'virbr', 'lxc', 'lxd', 'cni', 'podman', 'vmnet', 'vboxnet', 'flannel', 'cali'];
const VPN_PREFIXES = ['tun', 'tap', 'wg', 'utun', 'tailscale', 'zt', 'ppp', 'ipsec', 'nordlynx'];

export function isLinkLocal(address: string): boolean {
  const a = address.toLowerCase();
  if (a.startsWith('169.254.')) return true;
  // fe80::/10 = fe80 .. febf
  return /^fe[89ab][0-9a-f]:/.test(a);
}

export function interfaceKind(name: string, address: string, internal = false): InterfaceKind {
  if (internal) return 'loopback';
  if (isLinkLocal(address)) return 'link-local';
  const n = name.toLowerCase();
  if (CONTAINER_PREFIXES.some((p) => n.startsWith(p))) return 'container';
  if (VPN_PREFIXES.some((p) => n.startsWith(p))) return 'vpn';
  return 'lan';
}

/** Whether an address is offered to other devices under the given interface selection (null = automatic). */
export function isAdvertised(name: string, kind: InterfaceKind, selection: readonly string[] | null): boolean {
  if (kind === 'loopback' || kind === 'link-local') return false;
  if (selection === null) return kind === 'lan' || kind === 'vpn';
  return selection.includes(name);
}

export interface InterfaceAddress extends LanAddressView {
  internal: boolean;
}

/** Every address of every interface, classified; IPv4 first (what phones on a home LAN reach most reliably). */
export function allInterfaceAddresses(
  ifaces: InterfaceTable = networkInterfaces(),
  selection: readonly string[] | null = null,
): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [name, list] of Object.entries(ifaces)) {
    for (const a of list ?? []) {
      const family = a.family === 'IPv6' || (a.family as unknown) === 6 ? 'IPv6' : 'IPv4';
      const kind = interfaceKind(name, a.address, a.internal);
      out.push({
        interface: name,
        address: a.address,
        family,
        kind,
        advertised: isAdvertised(name, kind, selection),
        internal: a.internal,
      });
    }
  }
  return out.sort((x, y) => (x.family === y.family ? 0 : x.family === 'IPv4' ? -1 : 1));
}

/**
 * The addresses other devices could reach this node at (no loopback, no IPv6 link-local), each with its kind
 * and whether it is advertised. The desktop UI lists these; `advertised` ones go into QR codes and mDNS.
 */
export function lanAddresses(ifaces: InterfaceTable = networkInterfaces(), selection: readonly string[] | null = null): LanAddressView[] {
  return allInterfaceAddresses(ifaces, selection)
    .filter((a) => a.kind !== 'loopback' && !(a.family === 'IPv6' && a.kind === 'link-local'))
    .map(({ internal: _i, ...view }) => view);
}

/**
 * The interface table for the current moment, remembered briefly: the node reports its addresses in answers
 * to frequent device calls, and reading every interface each time costs more than the rest of the request.
 */
export function cachedInterfaces(maxAgeMs = 2_000): InterfaceTable {
  const now = Date.now();
  if (!cache || now - cache.at > maxAgeMs) {
    try {
      cache = { at: now, value: networkInterfaces() };
    } catch (err) {
      // Reading the table needs a socket, so it throws (EMFILE) when the process is out of file descriptors:
      // keep the last table known (or none) and try again on the next call. The caller's timer logs it.
      lastInterfaceError = err as Error;
      return cache?.value ?? {};
    }
  }
  return cache.value;
}
let cache: { at: number; value: InterfaceTable } | undefined;
let lastInterfaceError: Error | undefined;

/** The last failure to read the interface table since the previous call (then forgotten). */
export function takeInterfaceError(): Error | undefined {
  const e = lastInterfaceError;
  lastInterfaceError = undefined;
  return e;
}

/**
 * One node's view of its addresses under its own settings (several nodes may run in one process in tests,
 * each with its own settings and, in tests, its own made-up interface table).
 */
export class LocalAddresses {
  constructor(
    private readonly selection: () => readonly string[] | null,
    private readonly table: () => InterfaceTable = () => cachedInterfaces(),
  ) {}

  /** Every interface address, classified (diagnostics). */
  all(): InterfaceAddress[] {
    return allInterfaceAddresses(this.table(), this.selection());
  }

  /** Non-loopback addresses with kind and advertised flag (AdminState.lan_addresses). */
  lan(): LanAddressView[] {
    return lanAddresses(this.table(), this.selection());
  }

  /** The addresses offered to other devices, in preference order. */
  advertised(): string[] {
    return [
      ...new Set(
        this.lan()
          .filter((a) => a.advertised)
          .map((a) => a.address),
      ),
    ];
  }

  /** Interface names chosen in the settings that this machine does not have right now. */
  missingInterfaces(): string[] {
    const sel = this.selection();
    if (sel === null) return [];
    const present = new Set(Object.keys(this.table()));
    return sel.filter((n) => !present.has(n));
  }
}

export function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** Strips the IPv4-mapped IPv6 prefix Node reports for dual-stack sockets. */
export function plainAddress(address: string): string {
  return address.replace(/^::ffff:/, '');
}
