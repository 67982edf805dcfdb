// The Noise Protocol Framework (revision 34), browser- and Node-safe. See docs/noise.md.

export { CipherState, MAX_NONCE } from './cipher-state.js';
export { type HandshakeOptions, HandshakeState, type NoiseSuite, type TransportPair } from './handshake-state.js';
export { MAX_MESSAGE_LEN, NoiseError, type NoiseErrorCode } from './noise-error.js';
export { type HandshakePattern, SUPPORTED_PATTERNS, type Token } from './patterns.js';
export {
  CIPHER_AESGCM,
  CIPHER_CHACHAPOLY,
  type CipherFunction,
  constantTimeEqual,
  DH_448,
  DH_25519,
  type DhFunction,
  HASH_BLAKE2B,
  HASH_BLAKE2S,
  HASH_SHA256,
  HASH_SHA512,
  type HashFunction,
  type KeyPair,
  noiseAead,
} from './primitives.js';
export { isSupportedProtocol, type NoiseProtocol, parseProtocolName } from './protocol.js';
export { SymmetricState } from './symmetric-state.js';
