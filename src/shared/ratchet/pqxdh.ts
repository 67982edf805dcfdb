// PQXDH key agreement (Signal, "The PQXDH Key Agreement Protocol", revision 3), the way Salita starts an
// end-to-end session with a device that may be offline: X25519 for the identity, signed and one-time prekeys,
// ML-KEM-768 for the post-quantum part, XEdDSA for the prekey signatures (so one identity key does both jobs),
// HKDF-SHA-256 for the KDF. Pure @noble code: runs in Node and in a browser over plain http (no WebCrypto).
// docs/e2ee.md "PQXDH" lists every constant and what deviates from Signal.
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from '../encoding.js';
import {
  type KemPrekeyWire,
  ML_KEM_768_CIPHERTEXT_BYTES,
  ML_KEM_768_PUBLIC_BYTES,
  type OneTimePrekeyWire,
  PqxdhInitialMessage,
  PrekeyBundle,
  PrekeyId,
  type SignedPrekeyWire,
} from '../wire/prekeys.js';
import { PqxdhError } from './pqxdh-errors.js';
import { xeddsaSign, xeddsaVerify } from './xeddsa.js';

/** HKDF info: names the protocol, curve, hash and KEM so a key from another protocol can never collide. */
export const PQXDH_INFO = 'Salita_PQXDH_CURVE25519_SHA-256_ML-KEM-768';
/** EncodeEC's type byte: 0x05, the DJB type byte libsignal puts before a Curve25519 key. */
export const EC_TYPE_CURVE25519 = 0x05;
/** EncodeKEM's type byte for ML-KEM-768: Salita's own constant (Signal defines bytes only for its own KEMs). */
export const KEM_TYPE_ML_KEM_768 = 0x0b;
export const SHARED_KEY_BYTES = 32;

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}
/** The long-term identity key: X25519, also signing prekeys through XEdDSA. */
export type IdentityKeyPair = X25519KeyPair;

export interface SignedPrekeyPair {
  readonly id: number;
  readonly keyPair: X25519KeyPair;
  /** XEdDSA by the identity key over EncodeEC(public). */
  readonly signature: Uint8Array;
}

export interface KemPrekeyPair {
  readonly id: number;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** XEdDSA by the identity key over EncodeKEM(public). */
  readonly signature: Uint8Array;
  /** Reusable when no one-time KEM prekey is left; a one-time one must be deleted after its first use. */
  readonly lastResort: boolean;
}

export interface OneTimePrekeyPair {
  readonly id: number;
  readonly keyPair: X25519KeyPair;
}

/** A bundle after verifyBundle(): bytes, signatures checked. */
export interface VerifiedBundle {
  readonly identityKey: Uint8Array;
  readonly signedPrekey: { readonly id: number; readonly publicKey: Uint8Array };
  readonly kemPrekey: { readonly id: number; readonly publicKey: Uint8Array; readonly lastResort: boolean };
  readonly oneTimePrekey?: { readonly id: number; readonly publicKey: Uint8Array };
}

export interface PqxdhResult {
  /** SK: 32 bytes, the Double Ratchet's first root key. */
  readonly sharedKey: Uint8Array;
  /** AD = EncodeEC(IK_A) || EncodeEC(IK_B): to be bound into every ratchet message as associated data. */
  readonly ad: Uint8Array;
}

export interface InitiateResult extends PqxdhResult {
  readonly initialMessage: PqxdhInitialMessage;
  /** The bundle as initiate() verified it: the peer's identity key and the signed prekey the ratchet starts on. */
  readonly bundle: VerifiedBundle;
}

/** The responder's private keys, looked up by the ids an initial message names (undefined: not held). */
export interface ResponderKeys {
  readonly identity: IdentityKeyPair;
  signedPrekey(id: number): SignedPrekeyPair | undefined;
  kemPrekey(id: number): KemPrekeyPair | undefined;
  oneTimePrekey(id: number): OneTimePrekeyPair | undefined;
}

export interface RespondResult extends PqxdhResult {
  /** The initiator's identity key (32 bytes): what the safety number is computed over. */
  readonly peerIdentityKey: Uint8Array;
  /** Which prekeys were used: the caller deletes the one-time prekey and a one-time KEM prekey now. */
  readonly signedPrekeyId: number;
  readonly oneTimePrekeyId?: number;
  readonly kemPrekeyId: number;
  readonly kemLastResort: boolean;
}

export function encodeEC(publicKey: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(EC_TYPE_CURVE25519), publicKey]);
}

export function encodeKEM(publicKey: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(KEM_TYPE_ML_KEM_768), publicKey]);
}

/** A signed prekey's signature: XEdDSA by the identity key over EncodeEC(public). */
export function verifySignedPrekeySignature(identityKey: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): boolean {
  return xeddsaVerify(identityKey, encodeEC(publicKey), signature);
}

/** A KEM prekey's signature (one-time or last-resort alike): XEdDSA by the identity key over EncodeKEM(public). */
export function verifyKemPrekeySignature(identityKey: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): boolean {
  return xeddsaVerify(identityKey, encodeKEM(publicKey), signature);
}

function x25519KeyPair(): X25519KeyPair {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

function checkId(id: number): void {
  if (!PrekeyId.safeParse(id).success) throw new PqxdhError('invalid_argument', 'prekey id must be a uint32');
}

function checkIdentity(identity: IdentityKeyPair): void {
  if (identity?.privateKey?.length !== 32 || identity.publicKey?.length !== 32) {
    throw new PqxdhError('invalid_argument', 'identity key pair must be 32-byte X25519 keys');
  }
}

export function generateIdentityKeyPair(): IdentityKeyPair {
  return x25519KeyPair();
}

export function makeSignedPrekey(identity: IdentityKeyPair, id: number): SignedPrekeyPair {
  checkIdentity(identity);
  checkId(id);
  const keyPair = x25519KeyPair();
  return { id, keyPair, signature: xeddsaSign(identity.privateKey, encodeEC(keyPair.publicKey)) };
}

export function makeKemPrekey(identity: IdentityKeyPair, id: number, options: { lastResort: boolean }): KemPrekeyPair {
  checkIdentity(identity);
  checkId(id);
  const { publicKey, secretKey } = ml_kem768.keygen();
  const signature = xeddsaSign(identity.privateKey, encodeKEM(publicKey));
  return { id, publicKey, secretKey, signature, lastResort: options.lastResort };
}

/** `count` one-time prekeys with ids firstId, firstId+1, …; ids must stay in uint32. */
export function makeOneTimePrekeys(firstId: number, count: number): OneTimePrekeyPair[] {
  if (!Number.isInteger(count) || count < 0) throw new PqxdhError('invalid_argument', 'count must be >= 0');
  checkId(firstId);
  if (count > 0) checkId(firstId + count - 1);
  return Array.from({ length: count }, (_, i) => ({ id: firstId + i, keyPair: x25519KeyPair() }));
}

/** A signed prekey's public part as the directory carries it. */
export function signedPrekeyWire(k: SignedPrekeyPair): SignedPrekeyWire {
  return { id: k.id, public: toBase64Url(k.keyPair.publicKey), signature: toBase64Url(k.signature) };
}

/** A KEM prekey's public part as the directory carries it (one-time or last resort). */
export function kemPrekeyWire(k: KemPrekeyPair): KemPrekeyWire {
  return { id: k.id, public: toBase64Url(k.publicKey), signature: toBase64Url(k.signature), last_resort: k.lastResort };
}

/** A one-time prekey's public part as the directory carries it. */
export function oneTimePrekeyWire(k: OneTimePrekeyPair): OneTimePrekeyWire {
  return { id: k.id, public: toBase64Url(k.keyPair.publicKey) };
}

/** The public bundle a device uploads (one one-time prekey per handed-out bundle, chosen by the server). */
export function publicBundle(
  identity: IdentityKeyPair,
  signedPrekey: SignedPrekeyPair,
  kemPrekey: KemPrekeyPair,
  oneTimePrekey?: OneTimePrekeyPair,
): PrekeyBundle {
  return {
    identity_key: toBase64Url(identity.publicKey),
    signed_prekey: signedPrekeyWire(signedPrekey),
    kem_prekey: kemPrekeyWire(kemPrekey),
    ...(oneTimePrekey ? { one_time_prekey: oneTimePrekeyWire(oneTimePrekey) } : {}),
  };
}

/** Decodes a schema-checked base64url field; the schema fixed the length, so this only fails on bad bits. */
function bytesOf(text: string, what: string): Uint8Array {
  try {
    return fromBase64Url(text);
  } catch {
    throw new PqxdhError('malformed', `${what} is not base64url`);
  }
}

/** Schema, encodings and both signatures; throws `malformed` or `bad_signature`. Safe on any input. */
export function verifyBundle(input: unknown): VerifiedBundle {
  const parsed = PrekeyBundle.safeParse(input);
  if (!parsed.success) throw new PqxdhError('malformed', `prekey bundle: ${parsed.error.issues[0]?.message}`);
  const b = parsed.data;
  const identityKey = bytesOf(b.identity_key, 'identity_key');
  const spk = bytesOf(b.signed_prekey.public, 'signed_prekey.public');
  const kem = bytesOf(b.kem_prekey.public, 'kem_prekey.public');
  if (!verifySignedPrekeySignature(identityKey, spk, bytesOf(b.signed_prekey.signature, 'signed_prekey.signature'))) {
    throw new PqxdhError('bad_signature', 'the signed prekey is not signed by the identity key');
  }
  if (!verifyKemPrekeySignature(identityKey, kem, bytesOf(b.kem_prekey.signature, 'kem_prekey.signature'))) {
    throw new PqxdhError('bad_signature', 'the KEM prekey is not signed by the identity key');
  }
  return {
    identityKey,
    signedPrekey: { id: b.signed_prekey.id, publicKey: spk },
    kemPrekey: { id: b.kem_prekey.id, publicKey: kem, lastResort: b.kem_prekey.last_resort },
    ...(b.one_time_prekey
      ? {
          oneTimePrekey: {
            id: b.one_time_prekey.id,
            publicKey: bytesOf(b.one_time_prekey.public, 'one_time_prekey.public'),
          },
        }
      : {}),
  };
}

/** X25519 that refuses an all-zero output (a low-order public key), as the spec's DH requires. */
function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  let out: Uint8Array;
  try {
    out = x25519.getSharedSecret(privateKey, publicKey);
  } catch {
    throw new PqxdhError('invalid_key', 'X25519 refused a public key (low order)');
  }
  let acc = 0;
  for (const byte of out) acc |= byte;
  if (acc === 0) throw new PqxdhError('invalid_key', 'X25519 output is all zeros (low-order public key)');
  return out;
}

/** F = 32 0xFF bytes: keeps the KDF input from ever starting like an X25519 private key (XEdDSA separation). */
const KDF_PREFIX = new Uint8Array(32).fill(0xff);
const KDF_SALT = new Uint8Array(32);

function kdf(dhs: readonly Uint8Array[], ss: Uint8Array): Uint8Array {
  const ikm = concatBytes([KDF_PREFIX, ...dhs, ss]);
  return hkdf(sha256, ikm, KDF_SALT, utf8.encode(PQXDH_INFO), SHARED_KEY_BYTES);
}

function associatedData(initiatorIdentity: Uint8Array, responderIdentity: Uint8Array): Uint8Array {
  return concatBytes([encodeEC(initiatorIdentity), encodeEC(responderIdentity)]);
}

/** Alice's side: verifies Bob's bundle, then derives SK and the initial message to send. */
export function initiate(ourIdentity: IdentityKeyPair, bundle: unknown): InitiateResult {
  checkIdentity(ourIdentity);
  const b = verifyBundle(bundle);
  let encapsulated: { cipherText: Uint8Array; sharedSecret: Uint8Array };
  try {
    encapsulated = ml_kem768.encapsulate(b.kemPrekey.publicKey);
  } catch {
    throw new PqxdhError('invalid_key', 'the KEM prekey is not a valid ML-KEM-768 public key');
  }
  const ephemeral = x25519KeyPair();
  const dhs = [
    dh(ourIdentity.privateKey, b.signedPrekey.publicKey),
    dh(ephemeral.privateKey, b.identityKey),
    dh(ephemeral.privateKey, b.signedPrekey.publicKey),
  ];
  if (b.oneTimePrekey) dhs.push(dh(ephemeral.privateKey, b.oneTimePrekey.publicKey));
  const sharedKey = kdf(dhs, encapsulated.sharedSecret);
  // The ephemeral private key and the DH outputs are not needed past this point; wipe what we own.
  ephemeral.privateKey.fill(0);
  for (const d of dhs) d.fill(0);
  encapsulated.sharedSecret.fill(0);
  return {
    sharedKey,
    ad: associatedData(ourIdentity.publicKey, b.identityKey),
    bundle: b,
    initialMessage: {
      identity_key: toBase64Url(ourIdentity.publicKey),
      ephemeral_key: toBase64Url(ephemeral.publicKey),
      signed_prekey_id: b.signedPrekey.id,
      ...(b.oneTimePrekey ? { one_time_prekey_id: b.oneTimePrekey.id } : {}),
      kem_prekey_id: b.kemPrekey.id,
      kem_ciphertext: toBase64Url(encapsulated.cipherText),
    },
  };
}

/**
 * Bob's side: derives the same SK from the initial message. A wrong KEM ciphertext does not throw (ML-KEM's
 * implicit rejection gives a pseudo-random secret), so it yields a different key and the first ratchet
 * message fails to decrypt: that AEAD failure is the check, as in Signal.
 */
export function respond(ourKeys: ResponderKeys, initialMessage: unknown): RespondResult {
  checkIdentity(ourKeys.identity);
  const parsed = PqxdhInitialMessage.safeParse(initialMessage);
  if (!parsed.success) throw new PqxdhError('malformed', `initial message: ${parsed.error.issues[0]?.message}`);
  const m = parsed.data;
  const identityA = bytesOf(m.identity_key, 'identity_key');
  const ephemeralA = bytesOf(m.ephemeral_key, 'ephemeral_key');
  const ciphertext = bytesOf(m.kem_ciphertext, 'kem_ciphertext');
  if (ciphertext.length !== ML_KEM_768_CIPHERTEXT_BYTES) throw new PqxdhError('malformed', 'kem_ciphertext size');
  const spk = ourKeys.signedPrekey(m.signed_prekey_id);
  if (!spk) throw new PqxdhError('unknown_prekey', `no signed prekey ${m.signed_prekey_id}`);
  const kem = ourKeys.kemPrekey(m.kem_prekey_id);
  if (!kem || kem.publicKey.length !== ML_KEM_768_PUBLIC_BYTES) {
    throw new PqxdhError('unknown_prekey', `no KEM prekey ${m.kem_prekey_id}`);
  }
  let opk: OneTimePrekeyPair | undefined;
  if (m.one_time_prekey_id !== undefined) {
    opk = ourKeys.oneTimePrekey(m.one_time_prekey_id);
    if (!opk) throw new PqxdhError('unknown_prekey', `no one-time prekey ${m.one_time_prekey_id}`);
  }
  const dhs = [dh(spk.keyPair.privateKey, identityA), dh(ourKeys.identity.privateKey, ephemeralA), dh(spk.keyPair.privateKey, ephemeralA)];
  if (opk) dhs.push(dh(opk.keyPair.privateKey, ephemeralA));
  let ss: Uint8Array;
  try {
    ss = ml_kem768.decapsulate(ciphertext, kem.secretKey);
  } catch {
    throw new PqxdhError('invalid_key', 'ML-KEM-768 decapsulation refused the ciphertext');
  }
  const sharedKey = kdf(dhs, ss);
  for (const d of dhs) d.fill(0);
  ss.fill(0);
  return {
    sharedKey,
    ad: associatedData(identityA, ourKeys.identity.publicKey),
    peerIdentityKey: identityA,
    signedPrekeyId: spk.id,
    ...(opk ? { oneTimePrekeyId: opk.id } : {}),
    kemPrekeyId: kem.id,
    kemLastResort: kem.lastResort,
  };
}
