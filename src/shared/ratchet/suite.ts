// The primitives under the Double Ratchet, behind a seam: @noble here (runs in a browser over plain http, where
// WebCrypto subtle is absent), node:crypto in src/server/crypto/ratchet-node.ts with the same bytes
// (tests/unit/ratchet-suites.test.ts checks both on fixed inputs).
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

export interface RatchetKeyPair {
  /** X25519 public key, 32 bytes (no 0x05 type prefix as libsignal puts on the wire). */
  publicKey: Uint8Array;
  /** X25519 private key, 32 bytes. */
  privateKey: Uint8Array;
}

export interface RatchetSuite {
  generateKeyPair(): RatchetKeyPair;
  /** X25519; throws (anything) on a low-order public key (all-zero output). */
  dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** ChaCha20-Poly1305 (RFC 8439), 12-byte nonce, 16-byte tag appended. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  /** Throws (anything) when the tag does not verify. */
  open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array;
}

export const NOBLE_RATCHET_SUITE: RatchetSuite = {
  generateKeyPair() {
    const privateKey = x25519.utils.randomSecretKey();
    return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
  },
  dh(privateKey, publicKey) {
    const out = x25519.getSharedSecret(privateKey, publicKey);
    // noble rejects the all-zero output itself in current versions; checked again so both suites agree.
    if (out.every((b) => b === 0)) throw new Error('low-order public key');
    return out;
  },
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  seal: (key, nonce, plaintext, ad) => chacha20poly1305(key, nonce, ad).encrypt(plaintext),
  open: (key, nonce, ciphertext, ad) => chacha20poly1305(key, nonce, ad).decrypt(ciphertext),
};
