// The Noise Protocol Framework (revision 34), browser- and Node-safe. See docs/noise.md.
export { NoiseError, MAX_MESSAGE_LEN, type NoiseErrorCode } from './noise-error.js';
export { CipherState, MAX_NONCE } from './cipher-state.js';
export { SymmetricState } from './symmetric-state.js';
export { HandshakeState, type HandshakeOptions, type NoiseSuite, type TransportPair } from './handshake-state.js';
export { parseProtocolName, isSupportedProtocol, type NoiseProtocol } from './protocol.js';
export { SUPPORTED_PATTERNS, type HandshakePattern, type Token } from './patterns.js';
export {
  DH_25519, DH_448, CIPHER_CHACHAPOLY, CIPHER_AESGCM, HASH_SHA256, HASH_SHA512, HASH_BLAKE2S, HASH_BLAKE2B,
  constantTimeEqual, noiseAead, type DhFunction, type CipherFunction, type HashFunction, type KeyPair,
} from './primitives.js';
