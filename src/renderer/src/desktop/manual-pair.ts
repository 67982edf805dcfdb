// Reading what a person typed into "Pair by address": a pairing link pasted from the other desktop's screen,
// or an address (`192.168.1.20:6969`, `[fd00::2]:6969`, `desk.local:6969`, `http://192.168.1.20:6969`) to be
// used with the linking code. Pure functions: no DOM, so the rules are easy to follow and to test.

export const DEFAULT_PORT = 6969;

export type ManualTarget =
  | { kind: 'url'; url: string }
  | { kind: 'address'; host: string; port: number }
  | { kind: 'error'; message: string };

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;

function validPort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function looksLikeIpv6(text: string): boolean {
  // Letters, digits, colons, an optional zone (%eth0) and an optional embedded IPv4 tail.
  return /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/.test(text) && text.includes(':') && (text.match(/::/g)?.length ?? 0) <= 1;
}

function checkHost(host: string): string | undefined {
  if (IPV4.test(host)) return host.split('.').every((o) => Number(o) <= 255) ? undefined : `${host} is not a valid IPv4 address.`;
  if (looksLikeIpv6(host)) return undefined;
  if (HOST_NAME.test(host)) return undefined;
  return `"${host}" is not an address. Type it like 192.168.1.20:${DEFAULT_PORT} or [fd00::2]:${DEFAULT_PORT}.`;
}

/**
 * What the text means. A link with a pairing code (`/pair?code=…&fp=…`) is used as is (it carries the other
 * desktop's fingerprint); anything else is an address, whose port defaults to 6969 when left out.
 */
export function parseManualTarget(input: string): ManualTarget {
  const text = input.trim();
  if (!text) return { kind: 'error', message: 'Paste the pairing link shown on the other desktop, or type its address (host:port).' };

  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      return { kind: 'error', message: 'That link is not complete. Copy the whole pairing link from the other desktop.' };
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return { kind: 'error', message: 'A pairing link starts with http://.' };
    if (u.searchParams.get('code')) return { kind: 'url', url: u.toString() };
    // Just the desktop's address written as a link: use it with the linking code.
    const port = u.port ? Number(u.port) : DEFAULT_PORT;
    const host = u.hostname.replace(/^\[|\]$/g, '');
    return { kind: 'address', host, port };
  }

  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
    if (!looksLikeIpv6(host))
      return { kind: 'error', message: `"${host}" inside [ ] must be an IPv6 address, like [fd00::2]:${DEFAULT_PORT}.` };
  } else if ((text.match(/:/g)?.length ?? 0) > 1) {
    // Several colons without brackets: a bare IPv6 address (the port cannot be told apart from it).
    if (!looksLikeIpv6(text))
      return { kind: 'error', message: `"${text}" is not an address. Put an IPv6 address in brackets: [fd00::2]:${DEFAULT_PORT}.` };
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i === -1 ? text : text.slice(0, i);
    portText = i === -1 ? undefined : text.slice(i + 1);
  }
  if (host.includes('/'))
    return {
      kind: 'error',
      message: `Type only the address and port (like 192.168.1.20:${DEFAULT_PORT}), or paste the whole pairing link.`,
    };
  const bad = checkHost(host);
  if (bad) return { kind: 'error', message: bad };
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    const p = validPort(portText);
    if (p === undefined)
      return {
        kind: 'error',
        message: `"${portText}" is not a port: it is a number from 1 to 65535 (Salita uses ${DEFAULT_PORT} unless changed).`,
      };
    port = p;
  }
  return { kind: 'address', host, port };
}

/** "abcd efgh", "ABCDEFGH", "abcd-efgh" -> "ABCD-EFGH"; undefined when it cannot be a linking code. */
export function normalizeLinkingCodeInput(input: string): string | undefined {
  const compact = input.toUpperCase().replace(/[\s-]/g, '');
  if (!/^[A-Z2-7]{8}$/.test(compact)) return undefined;
  return `${compact.slice(0, 4)}-${compact.slice(4)}`;
}
