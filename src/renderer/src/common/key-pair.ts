// A device's static X25519 key pair as the pages keep it in localStorage (base64url), checked on load: a
// damaged or edited pair would only fail later, with a confusing error (handshake, or envelopes nobody can open).
import { x25519 } from '@noble/curves/ed25519.js';
import { fromBase64Url, toBase64Url } from '../../../shared/encoding.js';

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface StoredKeyPair {
  private_key: string;
  public_key: string;
}

/** The pair in `stored`, or undefined when it is missing or does not hold together. */
export function parseKeyPair(stored: Partial<StoredKeyPair> | undefined): KeyPair | undefined {
  if (!stored || typeof stored.private_key !== 'string' || typeof stored.public_key !== 'string') return undefined;
  try {
    const privateKey = fromBase64Url(stored.private_key);
    if (privateKey.length !== 32 || toBase64Url(x25519.getPublicKey(privateKey)) !== stored.public_key) return undefined;
    return { privateKey, publicKey: fromBase64Url(stored.public_key) };
  } catch {
    return undefined;
  }
}

export function newKeyPair(): KeyPair & { stored: StoredKeyPair } {
  const privateKey = x25519.utils.randomSecretKey();
  const publicKey = x25519.getPublicKey(privateKey);
  return { privateKey, publicKey, stored: { private_key: toBase64Url(privateKey), public_key: toBase64Url(publicKey) } };
}
