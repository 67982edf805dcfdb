// The PQXDH wire contract (docs/e2ee.md "PQXDH"): what a device publishes so others can start a session with it
// while it is offline (a prekey bundle), and the first message of that session (the initial message). Keys,
// signatures and the KEM ciphertext are base64url without padding, each of its exact length, so a bundle with a
// key of the wrong size is refused here and never reaches the curve arithmetic.
import { z } from 'zod';

/** base64url (no padding) of exactly `bytes` bytes. */
function b64urlOf(bytes: number, what: string) {
  const chars = Math.ceil((bytes * 4) / 3);
  return z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${chars}}$`), `${what}: base64url of ${bytes} bytes`);
}

export const X25519_PUBLIC_BYTES = 32;
export const XEDDSA_SIGNATURE_BYTES = 64;
/** FIPS 203 ML-KEM-768 encapsulation key and ciphertext sizes. */
export const ML_KEM_768_PUBLIC_BYTES = 1184;
export const ML_KEM_768_CIPHERTEXT_BYTES = 1088;

const X25519Public = b64urlOf(X25519_PUBLIC_BYTES, 'X25519 public key');
const Signature = b64urlOf(XEDDSA_SIGNATURE_BYTES, 'XEdDSA signature');
/** Prekey ids are chosen by their owner; uint32 like Signal's. */
export const PrekeyId = z.number().int().min(0).max(0xffff_ffff);

export const SignedPrekeyWire = z.object({ id: PrekeyId, public: X25519Public, signature: Signature }).strict();
export type SignedPrekeyWire = z.infer<typeof SignedPrekeyWire>;

export const KemPrekeyWire = z
  .object({
    id: PrekeyId,
    public: b64urlOf(ML_KEM_768_PUBLIC_BYTES, 'ML-KEM-768 public key'),
    signature: Signature,
    /** true: the reusable last-resort KEM prekey, handed out only when no one-time KEM prekey is left. */
    last_resort: z.boolean(),
  })
  .strict();
export type KemPrekeyWire = z.infer<typeof KemPrekeyWire>;

export const OneTimePrekeyWire = z.object({ id: PrekeyId, public: X25519Public }).strict();
export type OneTimePrekeyWire = z.infer<typeof OneTimePrekeyWire>;

/** One responder's bundle as a server hands it to one initiator (one-time prekeys are handed out once). */
export const PrekeyBundle = z
  .object({
    identity_key: X25519Public,
    signed_prekey: SignedPrekeyWire,
    kem_prekey: KemPrekeyWire,
    one_time_prekey: OneTimePrekeyWire.optional(),
  })
  .strict();
export type PrekeyBundle = z.infer<typeof PrekeyBundle>;

/** What the initiator sends with its first ratchet message so the responder can derive the same key. */
export const PqxdhInitialMessage = z
  .object({
    identity_key: X25519Public,
    ephemeral_key: X25519Public,
    signed_prekey_id: PrekeyId,
    one_time_prekey_id: PrekeyId.optional(),
    kem_prekey_id: PrekeyId,
    kem_ciphertext: b64urlOf(ML_KEM_768_CIPHERTEXT_BYTES, 'ML-KEM-768 ciphertext'),
  })
  .strict();
export type PqxdhInitialMessage = z.infer<typeof PqxdhInitialMessage>;

// ---- the prekey directory (docs/e2ee.md "Prekeys and the directory") ----------------------------------------
//
// A device publishes to its node (PUT {messages}/prekeys, signed request or the desktop UI's admin token):
// its signed prekey and last-resort KEM prekey (each replaces the one stored before) and more one-time prekeys
// (added to what is left). Every signature is checked against the device's identity key (its directory key)
// before anything is stored. Anyone who may message a device claims a bundle for it (POST
// {messages}/prekeys/:device_id/claim): the node that serves the device answers it from its own store (for its
// own devices, and for a home desktop's through the peer link), the cloud for devices of other homes. A claim
// takes one one-time prekey (X25519 and, if any, KEM) and removes it in the same committed transaction: a
// crash cannot hand it out twice. With none left the bundle has no one-time X25519 prekey and the last-resort KEM
// prekey. The directory never sees a private key.

/** Most one-time prekeys (of each kind) in one publish. */
export const MAX_ONE_TIME_PER_PUBLISH = 100;
/**
 * The largest publish body a server takes: MAX_ONE_TIME_PER_PUBLISH one-time KEM prekeys are about 1.7 KB of
 * JSON each (a 1184-byte ML-KEM-768 key and a signature in base64url), so a full publish is near 180 KB.
 */
export const MAX_PREKEY_PUBLISH_BODY_BYTES = 256 * 1024;
/** Most one-time prekeys (of each kind) a device has stored at one place; more are refused (prekey_limit). */
export const MAX_ONE_TIME_STORED = 200;
/** Below this many one-time prekeys left, a device publishes more. */
export const ONE_TIME_LOW_WATER = 20;

export const PublishPrekeysRequest = z
  .object({
    signed_prekey: SignedPrekeyWire,
    /** `last_resort` must be true. */
    kem_last_resort: KemPrekeyWire,
    one_time_prekeys: z.array(OneTimePrekeyWire).max(MAX_ONE_TIME_PER_PUBLISH),
    /** Each with `last_resort` false. */
    kem_one_time_prekeys: z.array(KemPrekeyWire).max(MAX_ONE_TIME_PER_PUBLISH),
  })
  .strict();
export type PublishPrekeysRequest = z.infer<typeof PublishPrekeysRequest>;

/** GET {messages}/prekeys (and the PUT's answer): what the caller's device has stored there now. */
export const PrekeyStatus = z
  .object({
    signed_prekey_id: PrekeyId.nullable(),
    /** When that signed prekey was published (ISO 8601); the device rotates it weekly. */
    signed_prekey_at: z.string().nullable(),
    kem_last_resort_id: PrekeyId.nullable(),
    one_time_left: z.number().int().min(0),
    kem_one_time_left: z.number().int().min(0),
  })
  .strict();
export type PrekeyStatus = z.infer<typeof PrekeyStatus>;

/** Stable refusals of the prekey routes (a 4xx `{error, message}`). */
export const PREKEY_ERROR_CODES = [
  /** A signature does not verify under the device's identity key, or `last_resort` is the wrong way round. */
  'invalid_prekey',
  /** A one-time prekey id the device already has stored (or had handed out) at this place. */
  'prekey_id_taken',
  /** More than MAX_ONE_TIME_STORED one-time prekeys of a kind. */
  'prekey_limit',
  /** The device is known but has published no prekeys (an older page): seal to it with envelope v1. */
  'no_prekeys',
  /** No device of that id is in the caller's directory. */
  'unknown_recipient',
] as const;
export type PrekeyErrorCode = (typeof PREKEY_ERROR_CODES)[number];
