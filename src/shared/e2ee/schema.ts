// The envelope as nodes and the cloud see it: only these fields, nothing else (docs/e2ee.md).
import { z } from 'zod';

export const ENVELOPE_VERSION = 1 as const;
export const MAX_RECIPIENTS = 32;
/** Plaintext limit; the ciphertext adds a 16-byte tag. */
export const MAX_PLAINTEXT_BYTES = 64 * 1024;
export const KEY_BYTES = 32;
export const TAG_BYTES = 16;
/** A wrap is the 32-byte content key sealed with ChaCha20-Poly1305: 32 + 16 bytes. */
export const WRAP_BYTES = KEY_BYTES + TAG_BYTES;

const b64urlLen = (bytes: number) => Math.ceil((bytes * 4) / 3);

/** Same alphabet as node ids (src/shared/wire/schemas.ts NodeId): 3-128 printable chars. */
export const DeviceId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{2,127}$/, 'device id: 3-128 chars of A-Z a-z 0-9 . _ : -');
/** Lowercase RFC 9562 UUIDv7. */
export const EnvelopeId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'id: lowercase uuidv7');
/** Exactly the form Date.prototype.toISOString() produces, and a real instant. */
export const SentAt = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'sent_at: YYYY-MM-DDTHH:mm:ss.sssZ')
  .refine((s) => {
    const t = Date.parse(s);
    return Number.isFinite(t) && new Date(t).toISOString() === s;
  }, 'sent_at: not a real instant');

const b64 = (exactBytes: number) =>
  z
    .string()
    .length(b64urlLen(exactBytes))
    .regex(/^[A-Za-z0-9_-]*$/, 'base64url');

export const EnvelopeHeader = z
  .object({
    /** base64url of the sender's ephemeral X25519 public key (32 bytes). */
    epk: b64(KEY_BYTES),
    /** base64url of the key commitment SHA-256(lp("salita/e2ee/v1/key-commit") || content key), 32 bytes. */
    kc: b64(KEY_BYTES),
    /** wraps[i] is the content key sealed to to[i]: base64url of 48 bytes. */
    wraps: z.array(b64(WRAP_BYTES)).min(1).max(MAX_RECIPIENTS),
  })
  .strict();
export type EnvelopeHeader = z.infer<typeof EnvelopeHeader>;

export const Envelope = z
  .object({
    v: z.literal(ENVELOPE_VERSION),
    id: EnvelopeId,
    from_device: DeviceId,
    /** Recipient device ids, strictly ascending (UTF-16 code unit order, which for this alphabet is byte order). */
    to: z.array(DeviceId).min(1).max(MAX_RECIPIENTS),
    sent_at: SentAt,
    header: EnvelopeHeader,
    /** base64url of ChaCha20-Poly1305(plaintext) incl. its tag: 16 .. MAX_PLAINTEXT_BYTES + 16 bytes. */
    ciphertext: z
      .string()
      .min(b64urlLen(TAG_BYTES))
      .max(b64urlLen(MAX_PLAINTEXT_BYTES + TAG_BYTES))
      .regex(/^[A-Za-z0-9_-]*$/, 'base64url'),
  })
  .strict()
  .refine((e) => e.to.every((id, i) => i === 0 || e.to[i - 1]! < id), {
    message: 'to: must be strictly ascending (sorted, no duplicates)',
    path: ['to'],
  })
  .refine((e) => e.header.wraps.length === e.to.length, {
    message: 'header.wraps: one per recipient, in `to` order',
    path: ['header', 'wraps'],
  });
export type Envelope = z.infer<typeof Envelope>;

/** Upper bound on the JSON size of a valid envelope, for transport limits (bytes, ASCII). */
export const MAX_ENVELOPE_JSON_BYTES =
  512 + MAX_RECIPIENTS * (131 + b64urlLen(WRAP_BYTES) + 3) + b64urlLen(MAX_PLAINTEXT_BYTES + TAG_BYTES);
