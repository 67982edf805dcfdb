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
