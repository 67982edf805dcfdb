// Parses a Noise protocol name (spec section 8), e.g. "Noise_IKpsk1_25519_ChaChaPoly_SHA256", into the
// pattern (with modifiers applied) and the three crypto functions.
import { NoiseError } from './noise-error.js';
import { applyPskModifiers, basePattern, type HandshakePattern } from './patterns.js';
import {
  CIPHER_AESGCM,
  CIPHER_CHACHAPOLY,
  type CipherFunction,
  DH_448,
  DH_25519,
  type DhFunction,
  HASH_BLAKE2B,
  HASH_BLAKE2S,
  HASH_SHA256,
  HASH_SHA512,
  type HashFunction,
} from './primitives.js';

export interface NoiseProtocol {
  name: string;
  pattern: HandshakePattern;
  dh: DhFunction;
  cipher: CipherFunction;
  hash: HashFunction;
  /** How many "psk" tokens the pattern has: that many 32-byte PSKs must be supplied, in order. */
  pskCount: number;
}

const DHS: Record<string, DhFunction> = { '25519': DH_25519, '448': DH_448 };
const CIPHERS: Record<string, CipherFunction> = { ChaChaPoly: CIPHER_CHACHAPOLY, AESGCM: CIPHER_AESGCM };
const HASHES: Record<string, HashFunction> = { SHA256: HASH_SHA256, SHA512: HASH_SHA512, BLAKE2s: HASH_BLAKE2S, BLAKE2b: HASH_BLAKE2B };

const parsed = new Map<string, NoiseProtocol>();

/** Parsed once per name: every handshake of a long-running node uses the same few protocols. */
export function parseProtocolName(name: string): NoiseProtocol {
  let p = parsed.get(name);
  if (!p) {
    p = parseUncached(name);
    if (parsed.size < 1024) parsed.set(name, p);
  }
  return p;
}

function parseUncached(name: string): NoiseProtocol {
  const parts = name.split('_');
  if (parts.length !== 5 || parts[0] !== 'Noise') throw new NoiseError('unsupported', `not a Noise protocol name: "${name}"`);
  const [, patternPart, dhName, cipherName, hashName] = parts as [string, string, string, string, string];
  const m = /^([NKXI1]+)(.*)$/.exec(patternPart);
  if (!m) throw new NoiseError('unsupported', `bad pattern "${patternPart}"`);
  const modifiers = m[2] ? m[2].split('+') : [];
  const pattern = applyPskModifiers(basePattern(m[1]!), modifiers);
  const dh = DHS[dhName];
  const cipher = CIPHERS[cipherName];
  const hash = HASHES[hashName];
  if (!dh) throw new NoiseError('unsupported', `unsupported DH "${dhName}"`);
  if (!cipher) throw new NoiseError('unsupported', `unsupported cipher "${cipherName}"`);
  if (!hash) throw new NoiseError('unsupported', `unsupported hash "${hashName}"`);
  const pskCount = pattern.messages.flat().filter((t) => t === 'psk').length;
  return { name, pattern, dh, cipher, hash, pskCount };
}

/** True if this module can run the named protocol (used to select conformance vectors). */
export function isSupportedProtocol(name: string): boolean {
  try {
    parseProtocolName(name);
    return true;
  } catch {
    return false;
  }
}
