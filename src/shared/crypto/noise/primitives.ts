// The crypto functions the Noise spec names (section 4): DH, cipher, hash (+ its HMAC/HKDF), all from the
// audited @noble family so the module runs in Node and in a browser. A faster DH can be injected
// (see src/server/crypto/node-noise.ts).

import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x448 } from '@noble/curves/ed448.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { blake2b, blake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../../encoding.js';
import { NoiseError } from './noise-error.js';

export interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface DhFunction {
  readonly name: '25519' | '448';
  readonly dhLen: number;
  generateKeyPair(): KeyPair;
  /** Public key for a private key (used when a caller supplies only the private half). */
  publicKey(privateKey: Uint8Array): Uint8Array;
  dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
}

function nobleDh(name: '25519' | '448', curve: typeof x25519 | typeof x448, dhLen: number): DhFunction {
  return {
    name,
    dhLen,
    generateKeyPair() {
      const privateKey = curve.utils.randomSecretKey();
      return { privateKey, publicKey: curve.getPublicKey(privateKey) };
    },
    publicKey: (privateKey) => curve.getPublicKey(privateKey),
    dh(privateKey, publicKey) {
      if (publicKey.length !== dhLen) throw new NoiseError('invalid_key', `public key must be ${dhLen} bytes`);
      try {
        return curve.getSharedSecret(privateKey, publicKey);
      } catch (err) {
        // noble refuses low-order points (all-zero shared secret); report it as a bad key, not a crash.
        throw new NoiseError('invalid_key', `DH failed: ${(err as Error).message}`);
      }
    },
  };
}

export const DH_25519: DhFunction = nobleDh('25519', x25519, 32);
export const DH_448: DhFunction = nobleDh('448', x448, 56);

export interface CipherFunction {
  readonly name: 'ChaChaPoly' | 'AESGCM';
  encrypt(key: Uint8Array, n: bigint, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws NoiseError('decrypt_failed') on a bad tag. */
  decrypt(key: Uint8Array, n: bigint, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

function nonce96(n: bigint, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setBigUint64(4, n, littleEndian);
  return out;
}

/** Builds a CipherFunction from any AEAD constructor (also used for node:crypto's ChaChaPoly). */
export function noiseAead(
  name: 'ChaChaPoly' | 'AESGCM',
  make: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array) => { encrypt(p: Uint8Array): Uint8Array; decrypt(c: Uint8Array): Uint8Array },
  littleEndian: boolean,
): CipherFunction {
  return {
    name,
    encrypt: (key, n, ad, plaintext) => make(key, nonce96(n, littleEndian), ad).encrypt(plaintext),
    decrypt(key, n, ad, ciphertext) {
      if (ciphertext.length < 16) throw new NoiseError('message_too_short', 'ciphertext shorter than its 16-byte tag');
      try {
        return make(key, nonce96(n, littleEndian), ad).decrypt(ciphertext);
      } catch {
        throw new NoiseError('decrypt_failed', 'authentication tag mismatch (wrong key or tampered message)');
      }
    },
  };
}

/** ChaChaPoly: 32 bits of zeros + 64-bit little-endian n. AESGCM: 32 bits of zeros + 64-bit big-endian n. */
export const CIPHER_CHACHAPOLY = noiseAead('ChaChaPoly', chacha20poly1305, true);
export const CIPHER_AESGCM = noiseAead('AESGCM', gcm, false);

type NobleHash = typeof sha256;

export interface HashFunction {
  readonly name: 'SHA256' | 'SHA512' | 'BLAKE2s' | 'BLAKE2b';
  readonly hashLen: number;
  hash(data: Uint8Array): Uint8Array;
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array;
}

function hashFn(name: HashFunction['name'], h: NobleHash, hashLen: number): HashFunction {
  return { name, hashLen, hash: (d) => h(d), hmac: (k, d) => hmac(h, k, d) };
}

export const HASH_SHA256 = hashFn('SHA256', sha256, 32);
export const HASH_SHA512 = hashFn('SHA512', sha512 as unknown as NobleHash, 64);
export const HASH_BLAKE2S = hashFn('BLAKE2s', blake2s as unknown as NobleHash, 32);
export const HASH_BLAKE2B = hashFn('BLAKE2b', blake2b as unknown as NobleHash, 64);

/** Noise's HKDF (spec 4.3): two or three outputs of HASHLEN bytes, chained through HMAC. */
export function noiseHkdf(hash: HashFunction, chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Uint8Array[] {
  const tempKey = hash.hmac(chainingKey, ikm);
  const out1 = hash.hmac(tempKey, Uint8Array.of(1));
  const out2 = hash.hmac(tempKey, concat(out1, Uint8Array.of(2)));
  if (outputs === 2) return [out1, out2];
  return [out1, out2, hash.hmac(tempKey, concat(out2, Uint8Array.of(3)))];
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/** Constant-time equality for equal-length byte strings (false for different lengths). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
