// Loopback checks for the HTTP edge (Node-side; used by the node's admin guard).
//
// A Host header is PARSED, never prefix-matched: `127.evil.example` or `127.0.0.1.nip.io` are DNS names an
// attacker controls (DNS rebinding), not loopback addresses. Only a strict dotted-decimal IPv4 literal in
// 127.0.0.0/8, the IPv6 literal `[::1]` and `localhost` pass, each with an optional port.
import { isIPv4 } from 'node:net';

/** A socket's peer address (as Node reports it, possibly IPv4-mapped) is on the loopback interface. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || isLoopbackIPv4(a);
}

function isLoopbackIPv4(a: string): boolean {
  // net.isIPv4 accepts only four decimal parts without leading zeros: no `0x7f.1`, `127.1` or `0177.0.0.1`.
  return isIPv4(a) && a.split('.')[0] === '127';
}

/** A Host header names this machine's loopback: `localhost`, `127.x.y.z` or `[::1]`, with an optional port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  let name: string;
  let rest: string;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return false;
    name = h.slice(1, end);
    rest = h.slice(end + 1);
    if (name !== '::1') return false;
  } else {
    const colon = h.indexOf(':');
    name = colon < 0 ? h : h.slice(0, colon);
    rest = colon < 0 ? '' : h.slice(colon);
    if (name !== 'localhost' && !isLoopbackIPv4(name)) return false;
  }
  if (rest === '') return true;
  const port = /^:(\d{1,5})$/.exec(rest);
  return port !== null && Number(port[1]) >= 1 && Number(port[1]) <= 65535;
}
