// The DNS-SD instance name a node advertises: its display name plus the tail of its node id, cut to fit one
// DNS label. A label holds at most 63 bytes (RFC 1035 §2.3.4, RFC 6763 §4.1.1) and the count is in UTF-8
// bytes, not characters: 40 Cyrillic characters are 80 bytes. Responders such as python-zeroconf and Avahi drop
// a packet with a longer label as malformed, so the node would vanish from every browser with nothing logged.

/** Longest DNS label, in bytes. */
export const MAX_LABEL_BYTES = 63;
/**
 * Bytes kept free for the " (2)" … " (99)" the responder appends when another host holds the name, so a
 * renamed instance still fits in one label.
 */
export const CONFLICT_SUFFIX_BYTES = 5;

/** The longest prefix of `text` that is at most `maxBytes` UTF-8 bytes, cut between code points, never inside one. */
export function cutUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    out += ch;
  }
  return out;
}

export interface InstanceName {
  /** What goes on the wire before any conflict rename. */
  instance: string;
  /** Whether the display name had to be shortened to fit. */
  cut: boolean;
}

/**
 * `<display name> [<last 8 of the node id>]`, with the display name shortened so the whole name plus a conflict
 * suffix stays within one label. Dots become dashes: some browsers split instance names at dots.
 */
export function instanceNameFor(displayName: string, nodeId: string): InstanceName {
  // Square brackets, not parentheses: the responder reads a trailing "(digits)" as its own conflict counter, and
  // a node id tail can be all digits ("Laptop (75407850)" would be "renamed" to "Laptop (75407851)").
  const tail = ` [${nodeId.slice(-8)}]`;
  const room = MAX_LABEL_BYTES - CONFLICT_SUFFIX_BYTES - Buffer.byteLength(tail, 'utf8');
  const clean = displayName.split('.').join('-');
  const kept = cutUtf8(clean, room).trimEnd();
  return { instance: `${kept}${tail}`, cut: kept !== clean.trimEnd() };
}
