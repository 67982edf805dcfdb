// The fingerprint is what a person compares by eye and what the QR carries, so it must be short,
// unambiguous when read aloud, and computed the same way on every side.
//
// Formula (documented in docs/protocol.md):
//   fingerprint = groups of 4 of base32(SHA-256(raw 32-byte X25519 public key)[0..10])
//   -> 16 characters, 80 bits, shown as "ABCD-EFGH-IJKL-MNOP".
// In URLs the dashes are dropped (`fp=ABCDEFGHIJKLMNOP`).
import { sha256 } from '@noble/hashes/sha2.js';
import { toBase32 } from './encoding.js';

export const FINGERPRINT_BYTES = 10;

export function fingerprintOf(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new Error('public key must be 32 bytes');
  const raw = toBase32(sha256(publicKey).subarray(0, FINGERPRINT_BYTES));
  return raw.match(/.{4}/g)!.join('-');
}

/** Accepts the display form or the compact URL form; returns the compact form, or null if malformed. */
export function normalizeFingerprint(text: string): string | null {
  const compact = text.replace(/[\s-]/g, '').toUpperCase();
  return /^[A-Z2-7]{16}$/.test(compact) ? compact : null;
}

export function sameFingerprint(a: string, b: string): boolean {
  const na = normalizeFingerprint(a);
  const nb = normalizeFingerprint(b);
  return na !== null && na === nb;
}
