// The two KDF chains of the Double Ratchet, byte for byte as libsignal (libsignal-protocol-java RootKey,
// ChainKey, HKDFv3; docs/e2ee.md "Double Ratchet"), so that libsignal's fixed values are our known answers.
import { utf8 } from '../encoding.js';
import { NOBLE_RATCHET_SUITE, type RatchetSuite } from './suite.js';

export const RATCHET_INFO = { root: 'WhisperRatchet', messageKeys: 'WhisperMessageKeys' } as const;
/** HMAC inputs of the symmetric chain, as libsignal's ChainKey: MESSAGE_KEY_SEED and CHAIN_KEY_SEED. */
export const MESSAGE_KEY_SEED = Uint8Array.of(0x01);
export const CHAIN_KEY_SEED = Uint8Array.of(0x02);
const ROOT_INFO = utf8.encode(RATCHET_INFO.root);
const MESSAGE_KEYS_INFO = utf8.encode(RATCHET_INFO.messageKeys);
/** libsignal's HKDF with no salt is HMAC keyed by 32 zero bytes, which is what an empty salt gives too. */
const ZERO_SALT = new Uint8Array(32);

/** KDF_RK: HKDF-SHA256(salt = root key, ikm = DH output, info "WhisperRatchet", 64) -> root key | chain key. */
export function kdfRk(
  rootKey: Uint8Array,
  dhOut: Uint8Array,
  suite: RatchetSuite = NOBLE_RATCHET_SUITE,
): { rootKey: Uint8Array; chainKey: Uint8Array } {
  const out = suite.hkdfSha256(dhOut, rootKey, ROOT_INFO, 64);
  return { rootKey: out.slice(0, 32), chainKey: out.slice(32, 64) };
}

/** KDF_CK: HMAC-SHA256(ck, 0x01) is the message key seed, HMAC-SHA256(ck, 0x02) the next chain key. */
export function kdfCk(
  chainKey: Uint8Array,
  suite: RatchetSuite = NOBLE_RATCHET_SUITE,
): { chainKey: Uint8Array; messageKeySeed: Uint8Array } {
  return {
    messageKeySeed: suite.hmacSha256(chainKey, MESSAGE_KEY_SEED),
    chainKey: suite.hmacSha256(chainKey, CHAIN_KEY_SEED),
  };
}

export interface MessageKeys {
  cipherKey: Uint8Array;
  /** Derived as libsignal does; unused by our AEAD (the Poly1305 tag replaces libsignal's truncated HMAC). */
  macKey: Uint8Array;
  iv: Uint8Array;
}

/** HKDF-SHA256(ikm = seed, salt = zero, info "WhisperMessageKeys", 80) -> cipher key 32 | mac key 32 | iv 16. */
export function messageKeys(messageKeySeed: Uint8Array, suite: RatchetSuite = NOBLE_RATCHET_SUITE): MessageKeys {
  const out = suite.hkdfSha256(messageKeySeed, ZERO_SALT, MESSAGE_KEYS_INFO, 80);
  return { cipherKey: out.slice(0, 32), macKey: out.slice(32, 64), iv: out.slice(64, 80) };
}
