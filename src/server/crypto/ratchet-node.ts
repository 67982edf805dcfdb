// The Double Ratchet's node:crypto suite (docs/e2ee.md "Double Ratchet"): the same X25519, HKDF-SHA256,
// HMAC-SHA256 and ChaCha20-Poly1305 as NOBLE_RATCHET_SUITE, the same bytes (tests/unit/ratchet-suites.test.ts),
// faster where Node runs. Pass it as `{ suite }` to initSender/encrypt/decrypt.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
} from 'node:crypto';
import type { RatchetSuite } from '../../shared/ratchet/suite.js';

const TAG = 16;
// DER prefixes of a raw X25519 key: PKCS#8 for a private key, SPKI for a public key (RFC 8410).
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

function privateKeyObject(raw: Uint8Array) {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
}
function publicKeyObject(raw: Uint8Array) {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' });
}
const bytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.length);

export const NODE_RATCHET_SUITE: RatchetSuite = {
  generateKeyPair() {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    const pub = publicKey.export({ format: 'der', type: 'spki' });
    const priv = privateKey.export({ format: 'der', type: 'pkcs8' });
    return { publicKey: bytes(pub.subarray(pub.length - 32)), privateKey: bytes(priv.subarray(priv.length - 32)) };
  },
  dh(priv, pub) {
    const out = bytes(diffieHellman({ privateKey: privateKeyObject(priv), publicKey: publicKeyObject(pub) }));
    if (out.every((b) => b === 0)) throw new Error('low-order public key');
    return out;
  },
  hkdfSha256: (ikm, salt, info, length) => new Uint8Array(hkdfSync('sha256', ikm, salt, info, length)),
  hmacSha256: (key, data) => bytes(createHmac('sha256', key).update(data).digest()),
  seal(key, nonce, plaintext, ad) {
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
    c.setAAD(ad, { plaintextLength: plaintext.length });
    return bytes(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
  },
  open(key, nonce, ciphertext, ad) {
    if (ciphertext.length < TAG) throw new Error('short');
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
    d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG));
    d.setAAD(ad, { plaintextLength: ciphertext.length - TAG });
    return bytes(Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - TAG)), d.final()]));
  },
};
