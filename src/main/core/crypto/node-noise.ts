// X25519 through node:crypto (OpenSSL), a drop-in DhFunction for the Noise module. In plain Node it is ~30x
// faster than @noble's pure-JS curve (bench/noise-handshake.ts prints both). Electron's node:crypto is
// BoringSSL-based and also has X25519, but the browser build of the phone page keeps using @noble.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { NoiseError, type DhFunction } from '../../../shared/crypto/noise/index.js';

// Fixed DER headers for raw 32-byte X25519 keys (RFC 8410): PKCS#8 private, SPKI public.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** Parsing a key into a KeyObject costs about as much as the DH itself, so static keys are cached. */
const privateCache = new WeakMap<Uint8Array, KeyObject>();

function privateKeyObject(raw: Uint8Array): KeyObject {
  let key = privateCache.get(raw);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
    privateCache.set(raw, key);
  }
  return key;
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export const NODE_X25519: DhFunction = {
  name: '25519',
  dhLen: 32,
  generateKeyPair() {
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    const priv = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length));
    const pub = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
    privateCache.set(priv, privateKey);
    return { privateKey: priv, publicKey: pub };
  },
  publicKey(privateKey) {
    if (privateKey.length !== 32) throw new NoiseError('invalid_key', 'X25519 private keys are 32 bytes');
    const pub = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' });
    return new Uint8Array(pub.subarray(SPKI_PREFIX.length));
  },
  dh(privateKey, publicKey) {
    if (privateKey.length !== 32 || publicKey.length !== 32) throw new NoiseError('invalid_key', 'X25519 keys are 32 bytes');
    try {
      const out = new Uint8Array(diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) }));
      // OpenSSL refuses an all-zero result (low-order point) already; check anyway so both DHs behave alike.
      if (out.every((b) => b === 0)) throw new Error('low-order public key');
      return out;
    } catch (err) {
      throw new NoiseError('invalid_key', `DH failed: ${(err as Error).message}`);
    }
  },
};
