// The envelope as nodes and the cloud see it: only these fields, nothing else (docs/e2ee.md). Version 1 seals the
// content key to each recipient's static key; version 2 carries it in a Double Ratchet message per recipient
// (forward secrecy). Nodes route both alike: they read id, from_device, to and sent_at, nothing more.
import { z } from 'zod';
import { RATCHET_HEADER_BYTES } from '../ratchet/header.js';
import { PqxdhInitialMessage } from '../wire/prekeys.js';

export const ENVELOPE_VERSION = 1 as const;
export const ENVELOPE_VERSION_2 = 2 as const;
/** A group message (Sender Keys, docs/e2ee.md "Groups"): the same ciphertext for every member device. */
export const ENVELOPE_VERSION_3 = 3 as const;
/** The versions this code opens; a device sends v2 where the recipient has prekeys, else v1. */
export const ENVELOPE_VERSIONS = [ENVELOPE_VERSION, ENVELOPE_VERSION_2, ENVELOPE_VERSION_3] as const;
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

/** base64url of ChaCha20-Poly1305(plaintext) incl. its tag: 16 .. MAX_PLAINTEXT_BYTES + 16 bytes. */
const Ciphertext = z
  .string()
  .min(b64urlLen(TAG_BYTES))
  .max(b64urlLen(MAX_PLAINTEXT_BYTES + TAG_BYTES))
  .regex(/^[A-Za-z0-9_-]*$/, 'base64url');

/** What every version carries for routing, and all a node or the cloud reads. */
const routing = {
  id: EnvelopeId,
  from_device: DeviceId,
  /** Recipient device ids, strictly ascending (UTF-16 code unit order, which for this alphabet is byte order). */
  to: z.array(DeviceId).min(1).max(MAX_RECIPIENTS),
  sent_at: SentAt,
};
const toAscending: [(e: { to: string[] }) => boolean, { message: string; path: string[] }] = [
  (e) => e.to.every((id, i) => i === 0 || e.to[i - 1]! < id),
  { message: 'to: must be strictly ascending (sorted, no duplicates)', path: ['to'] },
];

export const EnvelopeV1 = z
  .object({
    v: z.literal(ENVELOPE_VERSION),
    ...routing,
    header: EnvelopeHeader,
    ciphertext: Ciphertext,
  })
  .strict()
  .refine(...toAscending)
  .refine((e) => e.header.wraps.length === e.to.length, {
    message: 'header.wraps: one per recipient, in `to` order',
    path: ['header', 'wraps'],
  });
export type EnvelopeV1 = z.infer<typeof EnvelopeV1>;

/** What a v2 wrap's ratchet message seals: the content key || the content digest (docs/e2ee.md "Envelope v2"). */
export const RATCHET_WRAP_PLAINTEXT_BYTES = KEY_BYTES + 32;

/** One recipient's share of a v2 envelope: a Double Ratchet message carrying the content key. */
export const RatchetWrap = z
  .object({
    /** The PQXDH initial message: on every message of a session until the sender has heard back on it. */
    pre: PqxdhInitialMessage.optional(),
    /** base64url of the ratchet header (version, ratchet key, pn, n). */
    h: b64(RATCHET_HEADER_BYTES),
    /** base64url of ChaCha20-Poly1305(content key || content digest) with its tag. */
    c: b64(RATCHET_WRAP_PLAINTEXT_BYTES + TAG_BYTES),
  })
  .strict();
export type RatchetWrap = z.infer<typeof RatchetWrap>;

export const EnvelopeV2 = z
  .object({
    v: z.literal(ENVELOPE_VERSION_2),
    ...routing,
    /** base64url of the key commitment, as in v1. */
    kc: b64(KEY_BYTES),
    /** wraps[i] is for to[i]. */
    wraps: z.array(RatchetWrap).min(1).max(MAX_RECIPIENTS),
    /** base64url of ChaCha20-Poly1305(plaintext) under the content key, incl. its tag. */
    ciphertext: Ciphertext,
  })
  .strict()
  .refine(...toAscending)
  .refine((e) => e.wraps.length === e.to.length, { message: 'wraps: one per recipient, in `to` order', path: ['wraps'] });
export type EnvelopeV2 = z.infer<typeof EnvelopeV2>;

/** The XEdDSA signature of a group message, by its sender's chain signing key. */
export const GROUP_SIGNATURE_BYTES = 64;

/**
 * A group message as it travels: the Sender Key message (`group` + `ciphertext`, from src/shared/groups) of
 * `from_device`, addressed to up to MAX_RECIPIENTS member devices (a larger group's message goes as several
 * envelopes of the same bytes, each with its own id). Nodes carry it as any other: they read only the routing.
 */
export const EnvelopeV3 = z
  .object({
    v: z.literal(ENVELOPE_VERSION_3),
    ...routing,
    group: z
      .object({
        group_id: DeviceId,
        epoch: z.number().int().min(0).max(0xffff_ffff),
        iteration: z.number().int().min(0).max(0xffff_ffff),
        signature: b64(GROUP_SIGNATURE_BYTES),
      })
      .strict(),
    ciphertext: Ciphertext,
  })
  .strict()
  .refine(...toAscending);
export type EnvelopeV3 = z.infer<typeof EnvelopeV3>;

/** Any version: what nodes, peer links and the cloud carry. */
export const Envelope = z.discriminatedUnion('v', [EnvelopeV1, EnvelopeV2, EnvelopeV3]);
export type Envelope = EnvelopeV1 | EnvelopeV2 | EnvelopeV3;

/** A PQXDH initial message as JSON: its keys, ids and the ML-KEM-768 ciphertext, in base64url. */
const PRE_JSON_BYTES = 64 + 3 * 50 + 3 * 30 + b64urlLen(1088) + 20;
/** Upper bound on the JSON size of a valid envelope of either version, for transport limits (bytes, ASCII). */
export const MAX_ENVELOPE_JSON_BYTES =
  512 +
  MAX_RECIPIENTS *
    (131 +
      Math.max(
        b64urlLen(WRAP_BYTES) + 3,
        PRE_JSON_BYTES + b64urlLen(RATCHET_HEADER_BYTES) + b64urlLen(RATCHET_WRAP_PLAINTEXT_BYTES + TAG_BYTES) + 40,
      )) +
  b64urlLen(MAX_PLAINTEXT_BYTES + TAG_BYTES);
