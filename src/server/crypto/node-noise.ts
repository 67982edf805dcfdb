// node:crypto (OpenSSL) implementations of the Noise functions, drop-in replacements for the @noble ones the
// browser uses. In plain Node they are several times faster (bench/noise-handshake.ts prints both); the
// conformance vectors run against both. Electron's node:crypto (BoringSSL) has no ChaCha20-Poly1305, so the
// cipher falls back to @noble there (NODE_NOISE_SUITE checks at startup instead of assuming).
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  getCiphers,
  type KeyObject,
} from 'node:crypto';
import {
  CIPHER_CHACHAPOLY,
  type CipherFunction,
  type DhFunction,
  type HashFunction,
  NoiseError,
  type NoiseSuite,
  noiseAead,
} from '../../shared/crypto/noise/index.js';

// Fixed DER header for a raw 32-byte X25519 private key (RFC 8410 PKCS#8). (A JWK private key would need the
// public half too, which is what we are computing in publicKey().)
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

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

// Importing a public key as JWK is ~6x faster than as SPKI DER in Node 20 (measured: 50k vs 8k per second).
const b64url = (raw: Uint8Array) => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');

// A handshake uses each peer key two or three times (e.g. ee and se both take the peer's ephemeral key), so
// recently imported public keys are kept too; public keys are not secret, a plain bounded map is enough.
const publicCache = new Map<string, KeyObject>();
const PUBLIC_CACHE_MAX = 512;

function publicKeyObject(raw: Uint8Array): KeyObject {
  const x = b64url(raw);
  let key = publicCache.get(x);
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    if (publicCache.size >= PUBLIC_CACHE_MAX) publicCache.delete(publicCache.keys().next().value!);
    publicCache.set(x, key);
  }
  return key;
}

export const NODE_X25519: DhFunction = {
  name: '25519',
  dhLen: 32,
  generateKeyPair() {
    const { privateKey } = generateKeyPairSync('x25519');
    // One JWK export yields both halves (d, x) and is much cheaper than two DER exports.
    const jwk = privateKey.export({ format: 'jwk' }) as { d: string; x: string };
    const priv = new Uint8Array(Buffer.from(jwk.d, 'base64url'));
    const pub = new Uint8Array(Buffer.from(jwk.x, 'base64url'));
    privateCache.set(priv, privateKey);
    return { privateKey: priv, publicKey: pub };
  },
  publicKey(privateKey) {
    if (privateKey.length !== 32) throw new NoiseError('invalid_key', 'X25519 private keys are 32 bytes');
    const jwk = createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' }) as { x: string };
    return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
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

export const NODE_SHA256: HashFunction = {
  name: 'SHA256',
  hashLen: 32,
  hash: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
  hmac: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
};

const TAG = 16;
function nodeChaChaPoly(): CipherFunction {
  return noiseAead(
    'ChaChaPoly',
    (key, nonce, ad) => ({
      encrypt(plaintext) {
        const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
        c.setAAD(ad, { plaintextLength: plaintext.length });
        return new Uint8Array(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
      },
      decrypt(ciphertext) {
        const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
        d.setAAD(ad, { plaintextLength: ciphertext.length - TAG });
        d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG));
        return new Uint8Array(Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - TAG)), d.final()]));
      },
    }),
    true,
  );
}

export const NODE_CHACHAPOLY: CipherFunction = getCiphers().includes('chacha20-poly1305') ? nodeChaChaPoly() : CIPHER_CHACHAPOLY;

/** What the node passes to every handshake it runs (pairing responder, desktop-to-desktop initiator). */
export const NODE_NOISE_SUITE: NoiseSuite = { dh: NODE_X25519, hash: NODE_SHA256, cipher: NODE_CHACHAPOLY };
