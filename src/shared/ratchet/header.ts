// The message header (docs/e2ee.md "Double Ratchet"): version, the sender's current ratchet public key, pn (the
// length of its previous sending chain) and n (this message's index in the current chain). Fixed length, so
// ad || header (the AEAD's associated data) parses unambiguously from the end.
import { RatchetError } from './errors.js';

export const RATCHET_VERSION = 1;
export const RATCHET_HEADER_BYTES = 1 + 32 + 4 + 4;

export interface RatchetHeader {
  dh: Uint8Array;
  pn: number;
  n: number;
}

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** 0x01 | dh (32) | pn (u32 big endian) | n (u32 big endian). */
export function encodeHeader(h: RatchetHeader): Uint8Array {
  if (!(h.dh instanceof Uint8Array) || h.dh.length !== 32 || !isU32(h.pn) || !isU32(h.n))
    throw new RatchetError('ratchet_bad_message', 'header: a 32-byte key and two u32 counters');
  const out = new Uint8Array(RATCHET_HEADER_BYTES);
  const view = new DataView(out.buffer);
  out[0] = RATCHET_VERSION;
  out.set(h.dh, 1);
  view.setUint32(33, h.pn);
  view.setUint32(37, h.n);
  return out;
}

export function decodeHeader(bytes: Uint8Array): RatchetHeader {
  if (!(bytes instanceof Uint8Array) || bytes.length !== RATCHET_HEADER_BYTES)
    throw new RatchetError('ratchet_bad_message', `header: ${RATCHET_HEADER_BYTES} bytes`);
  if (bytes[0] !== RATCHET_VERSION) throw new RatchetError('ratchet_bad_message', `header version ${bytes[0]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return { dh: bytes.slice(1, 33), pn: view.getUint32(33), n: view.getUint32(37) };
}
