// XEdDSA ("The XEdDSA and VXEdDSA Signature Schemes", Signal, revision 1): EdDSA-compatible signatures made
// with an X25519 private key and checked against the X25519 public key. It lets one identity key do both the
// PQXDH Diffie-Hellman and the prekey signatures, as Signal does, instead of a second Ed25519 key that would
// need its own binding to the X25519 one. Built on @noble/curves' Edwards point arithmetic (no WebCrypto), so
// it runs in Node and in a browser over plain http.
//
// The private scalar k is the clamped X25519 scalar, so k·B (Edwards) has the Montgomery u of the X25519
// public key. The spec's calculate_key_pair negates k when k·B has sign bit 1, so the Edwards public key A
// always has sign bit 0 and the verifier can rebuild A from u alone.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../encoding.js';
import { PqxdhError } from './pqxdh-errors.js';

const Point = ed25519.Point;
const Fp = Point.Fp;
const Fn = Point.Fn;
const p = Fp.ORDER;
const q = Fn.ORDER;

export const XEDDSA_SIGNATURE_BYTES = 64;
/** The spec's Z: 64 bytes of fresh randomness per signature. */
const NONCE_BYTES = 64;

function bytesToNumberLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function numberToBytesLE(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = n;
  for (let i = 0; i < len; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** hash_1 of the spec: SHA-512 over (2^256 - 1 - 1) as 32 little-endian bytes, then X. Domain-separates r. */
const HASH1_PREFIX = (() => {
  const b = new Uint8Array(32).fill(0xff);
  b[0] = 0xfe;
  return b;
})();

/** The X25519 clamping of RFC 7748, giving the scalar an X25519 private key really stands for. */
function clampedScalar(privateKey: Uint8Array): bigint {
  const k = Uint8Array.from(privateKey);
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return bytesToNumberLE(k);
}

/** calculate_key_pair: the Edwards public key A (sign bit 0) and the matching scalar a. */
function calculateKeyPair(privateKey: Uint8Array): { A: Uint8Array; a: bigint } {
  const k = Fn.create(clampedScalar(privateKey));
  const E = Point.BASE.multiply(k);
  const encoded = E.toBytes();
  const signBit = (encoded[31]! & 0x80) !== 0;
  const a = signBit ? Fn.neg(k) : k;
  encoded[31]! &= 0x7f;
  return { A: encoded, a };
}

function reduceHash(bytes: Uint8Array): bigint {
  return Fn.create(bytesToNumberLE(bytes));
}

/** Signs `message` with an X25519 private key (32 bytes). `nonce` (64 bytes) is for test vectors only. */
export function xeddsaSign(privateKey: Uint8Array, message: Uint8Array, nonce?: Uint8Array): Uint8Array {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
    throw new PqxdhError('invalid_argument', 'XEdDSA private key must be 32 bytes');
  }
  const Z = nonce ?? crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  if (Z.length !== NONCE_BYTES) throw new PqxdhError('invalid_argument', 'XEdDSA nonce must be 64 bytes');
  const { A, a } = calculateKeyPair(privateKey);
  const r = reduceHash(sha512(concatBytes([HASH1_PREFIX, numberToBytesLE(a, 32), message, Z])));
  // r = 0 has negligible probability; noble refuses a zero scalar, so map it to a fresh nonce.
  if (r === 0n) return xeddsaSign(privateKey, message);
  const R = Point.BASE.multiply(r).toBytes();
  const h = reduceHash(sha512(concatBytes([R, A, message])));
  const s = Fn.add(r, Fn.mul(h, a));
  return concatBytes([R, numberToBytesLE(s, 32)]);
}

/** convert_mont: the Edwards point (sign bit 0) with the Montgomery u, or null when there is none. */
function edwardsFromMontgomery(u: bigint): InstanceType<typeof Point> | null {
  const denominator = Fp.add(u, Fp.ONE);
  if (Fp.is0(denominator)) return null;
  const y = Fp.div(Fp.sub(u, Fp.ONE), denominator);
  try {
    return Point.fromBytes(numberToBytesLE(y, 32));
  } catch {
    return null;
  }
}

/**
 * Verifies an XEdDSA signature against an X25519 public key (32 bytes). Returns false for every bad input
 * (wrong sizes, u ≥ p, s ≥ q, points off the curve) rather than throwing: a signature is attacker input.
 * s ≥ q is refused (the spec allows s < 2^253) so a signature has exactly one encoding.
 */
export function xeddsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== XEDDSA_SIGNATURE_BYTES) return false;
  // X25519 public keys carry 255 bits; the top bit is masked as RFC 7748 does.
  const uBytes = Uint8Array.from(publicKey);
  uBytes[31]! &= 0x7f;
  const u = bytesToNumberLE(uBytes);
  if (u >= p) return false;
  const Rbytes = signature.subarray(0, 32);
  const s = bytesToNumberLE(signature.subarray(32));
  if (s >= q) return false;
  const A = edwardsFromMontgomery(u);
  if (A === null) return false;
  const Abytes = A.toBytes();
  const h = reduceHash(sha512(concatBytes([Rbytes, Abytes, message])));
  // Rcheck = s·B − h·A; variable-time is fine, everything here is public.
  const sB = s === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(s);
  const hA = h === 0n ? Point.ZERO : A.multiplyUnsafe(h);
  const Rcheck = sB.subtract(hA).toBytes();
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= Rcheck[i]! ^ Rbytes[i]!;
  return diff === 0;
}
