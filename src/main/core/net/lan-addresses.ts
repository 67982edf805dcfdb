// The addresses other devices on the LAN can reach this node at. Loopback is never offered (a phone that
// scans 127.0.0.1 would talk to itself); IPv6 link-local needs a zone id that a URL can't carry portably.
import { networkInterfaces } from 'node:os';
import type { LanAddressView } from '../../../shared/wire/schemas.js';

export function lanAddresses(ifaces = networkInterfaces()): LanAddressView[] {
  const out: LanAddressView[] = [];
  for (const [name, list] of Object.entries(ifaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')) continue;
      out.push({ interface: name, address: a.address, family: a.family === 'IPv6' ? 'IPv6' : 'IPv4' });
    }
  }
  // IPv4 first: it is what phones on a home LAN reach most reliably.
  return out.sort((x, y) => (x.family === y.family ? 0 : x.family === 'IPv4' ? -1 : 1));
}

/**
 * lanAddresses() for the current moment, remembered briefly: the node reports its addresses in answers to
 * frequent device calls, and reading every interface each time costs more than the rest of the request.
 */
export function cachedLanAddresses(maxAgeMs = 2_000): LanAddressView[] {
  const now = Date.now();
  if (!cache || now - cache.at > maxAgeMs) cache = { at: now, value: lanAddresses() };
  return cache.value;
}
let cache: { at: number; value: LanAddressView[] } | undefined;

export function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.replace(/^::ffff:/, '');
  return a === '::1' || a.startsWith('127.');
}

/** Strips the IPv4-mapped IPv6 prefix Node reports for dual-stack sockets. */
export function plainAddress(address: string): string {
  return address.replace(/^::ffff:/, '');
}
