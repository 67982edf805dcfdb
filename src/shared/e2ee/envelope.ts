// The E2EE envelope: one content key, sealed once; the key wrapped to each recipient
// device with an authenticated KEM (ephemeral-static + static-static X25519, HKDF-SHA256, ChaCha20-Poly1305).
// Browser-safe: @noble only. Byte-level spec and guarantees: docs/e2ee.md.

import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { v7 as uuidv7 } from 'uuid';
import { concatBytes, fromBase64Url, toBase64Url, u32be, utf8 } from '../encoding.js';
import { E2eeError } from './errors.js';
import {
  DeviceId,
  ENVELOPE_VERSION,
  ENVELOPE_VERSIONS,
  Envelope,
  type EnvelopeV1,
  KEY_BYTES,
  MAX_PLAINTEXT_BYTES,
  MAX_RECIPIENTS,
  WRAP_BYTES,
} from './schema.js';

/** Labels; every one is part of the format (docs/e2ee.md). */
export const LABELS = {
  content: 'salita/e2ee/v1/content',
  wrapSalt: 'salita/e2ee/v1/wrap-salt',
  wrapInfo: 'salita/e2ee/v1/wrap-key',
  wrapAd: 'salita/e2ee/v1/wrap-ad',
  keyCommit: 'salita/e2ee/v1/key-commit',
} as const;

/** Both AEADs use the all-zero nonce: every key is fresh per envelope (content) or per envelope+recipient (wrap). */
const ZERO_NONCE = new Uint8Array(12);

export type Rng = (length: number) => Uint8Array;

export interface SenderKeys {
  device_id: string;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}
export interface RecipientKey {
  device_id: string;
  publicKey: Uint8Array;
}
export interface SealOptions {
  from: SenderKeys;
  to: RecipientKey[];
  /** Randomness source (tests/KATs). Default: crypto.getRandomValues via @noble. Called as rng(32) ephemeral key, rng(32) content key, rng(16) uuid. */
  rng?: Rng;
  /** Clock (tests/KATs). Default: Date.now. */
  now?: () => number;
}
export interface OpenOptions {
  me: SenderKeys;
  /** The static X25519 public key the caller believes `envelope.from_device` has (from the key directory). */
  senderPublicKey: Uint8Array;
}

// ---- byte helpers ----------------------------------------------------------------------------------------

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);
/** Length-prefixed: u32be(len) || bytes. Makes every concatenation below unambiguous. */
export function lp(x: Uint8Array | string): Uint8Array {
  const b = typeof x === 'string' ? utf8.encode(x) : x;
  return concat(u32be(b.length), b);
}

// ---- key schedule (exported for docs/tests; byte layout in docs/e2ee.md) -----------------------------------

export interface ContentFields {
  v: number;
  id: string;
  from_device: string;
  to: string[];
  sent_at: string;
  epk: Uint8Array;
  kc: Uint8Array;
}

/** AD of the content AEAD: binds v, id, from_device, the (sorted) to list, sent_at, the ephemeral key and the key commitment. */
export function contentAd(f: ContentFields): Uint8Array {
  return concat(
    lp(LABELS.content),
    new Uint8Array([f.v]),
    lp(f.id),
    lp(f.from_device),
    u32be(f.to.length),
    ...f.to.map((t) => lp(t)),
    lp(f.sent_at),
    lp(f.epk),
    lp(f.kc),
  );
}

/** SHA-256(lp(label) || content key): makes every recipient agree on one content key (ChaCha20-Poly1305 is not key-committing). */
export function keyCommitment(contentKey: Uint8Array): Uint8Array {
  return sha256(concat(lp(LABELS.keyCommit), contentKey));
}

/** SHA-256(lp(contentAd) || ciphertext): what every wrap authenticates, so no recipient can swap the content. */
export function contentDigest(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return sha256(concat(lp(ad), ciphertext));
}

export interface WrapContext {
  id: string;
  from_device: string;
  to_device: string;
  epk: Uint8Array;
  senderPublicKey: Uint8Array;
  recipientPublicKey: Uint8Array;
}

/** HKDF-SHA256(salt, IKM = dh_es || dh_ss, info) -> 32-byte wrap key. */
export function wrapKey(dhEs: Uint8Array, dhSs: Uint8Array, c: WrapContext): Uint8Array {
  const info = concat(
    lp(LABELS.wrapInfo),
    lp(c.id),
    lp(c.from_device),
    lp(c.to_device),
    lp(c.epk),
    lp(c.senderPublicKey),
    lp(c.recipientPublicKey),
  );
  return hkdf(sha256, concat(dhEs, dhSs), utf8.encode(LABELS.wrapSalt), info, KEY_BYTES);
}

/** AD of a wrap: sender id, recipient id, and the content digest. */
export function wrapAd(from_device: string, to_device: string, digest: Uint8Array): Uint8Array {
  return concat(lp(LABELS.wrapAd), lp(from_device), lp(to_device), lp(digest));
}

// ---- argument checks ---------------------------------------------------------------------------------------

function checkKey(k: unknown, what: string): Uint8Array {
  if (!(k instanceof Uint8Array) || k.length !== KEY_BYTES)
    throw new E2eeError('invalid_argument', `${what}: expected a 32-byte Uint8Array`);
  return k;
}
export function checkId(id: unknown, what: string): string {
  if (!DeviceId.safeParse(id).success) throw new E2eeError('invalid_argument', `${what}: not a valid device id`);
  return id as string;
}
function checkOwnPair(k: SenderKeys | undefined, what: string): SenderKeys {
  if (!k || typeof k !== 'object') throw new E2eeError('invalid_argument', `${what}: missing`);
  const device_id = checkId(k.device_id, `${what}.device_id`);
  const privateKey = checkKey(k.privateKey, `${what}.privateKey`);
  const publicKey = checkKey(k.publicKey, `${what}.publicKey`);
  if (!bytesEqual(x25519.getPublicKey(privateKey), publicKey))
    throw new E2eeError('invalid_argument', `${what}: publicKey does not match privateKey`);
  return { device_id, privateKey, publicKey };
}
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
/** X25519; noble throws on a low-order point (all-zero shared secret). */
function dh(priv: Uint8Array, pub: Uint8Array): Uint8Array | null {
  try {
    return x25519.getSharedSecret(priv, pub);
  } catch {
    return null;
  }
}

// ---- seal / open -------------------------------------------------------------------------------------------

export function seal(plaintext: Uint8Array, opts: SealOptions): EnvelopeV1 {
  if (!(plaintext instanceof Uint8Array)) throw new E2eeError('invalid_argument', 'plaintext: expected a Uint8Array');
  if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new E2eeError('invalid_argument', `plaintext: over ${MAX_PLAINTEXT_BYTES} bytes`);
  const from = checkOwnPair(opts?.from, 'from');
  if (!Array.isArray(opts.to) || opts.to.length === 0 || opts.to.length > MAX_RECIPIENTS) {
    throw new E2eeError('invalid_argument', `to: 1..${MAX_RECIPIENTS} recipients`);
  }
  const recipients = opts.to
    .map((r, i) => ({
      device_id: checkId(r?.device_id, `to[${i}].device_id`),
      publicKey: checkKey(r?.publicKey, `to[${i}].publicKey`),
    }))
    .sort((a, b) => (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0));
  for (let i = 1; i < recipients.length; i++) {
    if (recipients[i - 1]!.device_id === recipients[i]!.device_id)
      throw new E2eeError('invalid_argument', `to: duplicate device id ${recipients[i]!.device_id}`);
  }

  const rng: Rng = opts.rng ?? randomBytes;
  const take = (n: number): Uint8Array => {
    const b = rng(n);
    if (!(b instanceof Uint8Array) || b.length !== n) throw new E2eeError('invalid_argument', `rng(${n}) must return ${n} bytes`);
    return b;
  };
  const eSk = take(KEY_BYTES);
  const epk = x25519.getPublicKey(eSk);
  const contentKey = take(KEY_BYTES);
  const nowMs = opts.now ? opts.now() : Date.now();
  const id = opts.rng || opts.now ? uuidv7({ msecs: nowMs, random: take(16) }) : uuidv7();
  const sent_at = new Date(nowMs).toISOString();
  const to = recipients.map((r) => r.device_id);

  const kc = keyCommitment(contentKey);
  const ad = contentAd({ v: ENVELOPE_VERSION, id, from_device: from.device_id, to, sent_at, epk, kc });
  const ciphertext = chacha20poly1305(contentKey, ZERO_NONCE, ad).encrypt(plaintext);
  const digest = contentDigest(ad, ciphertext);

  const wraps = recipients.map((r) => {
    const dhEs = dh(eSk, r.publicKey);
    const dhSs = dh(from.privateKey, r.publicKey);
    if (!dhEs || !dhSs) throw new E2eeError('invalid_argument', `to ${r.device_id}: public key is a low-order point`);
    const k = wrapKey(dhEs, dhSs, {
      id,
      from_device: from.device_id,
      to_device: r.device_id,
      epk,
      senderPublicKey: from.publicKey,
      recipientPublicKey: r.publicKey,
    });
    return toBase64Url(chacha20poly1305(k, ZERO_NONCE, wrapAd(from.device_id, r.device_id, digest)).encrypt(contentKey));
  });

  return {
    v: ENVELOPE_VERSION,
    id,
    from_device: from.device_id,
    to,
    sent_at,
    header: { epk: toBase64Url(epk), kc: toBase64Url(kc), wraps },
    ciphertext: toBase64Url(ciphertext),
  };
}

/**
 * Validates the shape of anything received (JSON-parsed), either version. Throws E2eeError: version_unsupported
 * for a numeric v other than 1 or 2, malformed for everything else that is not a valid envelope.
 */
export function parseEnvelope(input: unknown): Envelope {
  if (input !== null && typeof input === 'object' && !Array.isArray(input) && 'v' in input) {
    const v = (input as { v: unknown }).v;
    if (typeof v === 'number' && !(ENVELOPE_VERSIONS as readonly number[]).includes(v))
      throw new E2eeError('version_unsupported', `envelope version ${v} is not supported (this code: ${ENVELOPE_VERSIONS.join(', ')})`);
  }
  const parsed = Envelope.safeParse(input);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new E2eeError('malformed', `envelope: ${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid'}`);
  }
  return parsed.data;
}

export function decodeB64(text: string, what: string): Uint8Array {
  try {
    return fromBase64Url(text);
  } catch {
    throw new E2eeError('malformed', `${what}: invalid base64url`);
  }
}

/** Opens a v1 envelope (static keys). A v2 envelope is opened by its ratchet session, a v3 by its group. */
export function open(envelope: unknown, opts: OpenOptions): Uint8Array {
  const env = parseEnvelope(envelope);
  if (env.v !== ENVELOPE_VERSION)
    throw new E2eeError('version_unsupported', `envelope ${env.id} is version ${env.v}: it is opened by its session or its group`);
  const me = checkOwnPair(opts?.me, 'me');
  const senderPublicKey = checkKey(opts?.senderPublicKey, 'senderPublicKey');

  const index = env.to.indexOf(me.device_id);
  if (index < 0) throw new E2eeError('not_a_recipient', `device ${me.device_id} is not a recipient of envelope ${env.id}`);

  const epk = decodeB64(env.header.epk, 'header.epk');
  const wrap = decodeB64(env.header.wraps[index]!, `header.wraps[${index}]`);
  const kc = decodeB64(env.header.kc, 'header.kc');
  const ciphertext = decodeB64(env.ciphertext, 'ciphertext');
  if (epk.length !== KEY_BYTES || kc.length !== KEY_BYTES || wrap.length !== WRAP_BYTES)
    throw new E2eeError('malformed', 'header: wrong key or wrap length');

  const dhEs = dh(me.privateKey, epk);
  const dhSs = dh(me.privateKey, senderPublicKey);
  if (!dhEs || !dhSs) throw new E2eeError('decrypt_failed', 'ephemeral or sender key is a low-order point');

  const ad = contentAd({ v: env.v, id: env.id, from_device: env.from_device, to: env.to, sent_at: env.sent_at, epk, kc });
  const digest = contentDigest(ad, ciphertext);
  const k = wrapKey(dhEs, dhSs, {
    id: env.id,
    from_device: env.from_device,
    to_device: me.device_id,
    epk,
    senderPublicKey,
    recipientPublicKey: me.publicKey,
  });
  let contentKey: Uint8Array;
  try {
    contentKey = chacha20poly1305(k, ZERO_NONCE, wrapAd(env.from_device, me.device_id, digest)).decrypt(wrap);
  } catch {
    throw new E2eeError('decrypt_failed', `envelope ${env.id}: key wrap did not verify (tampered, or not from that sender key)`);
  }
  if (!bytesEqual(keyCommitment(contentKey), kc))
    throw new E2eeError('decrypt_failed', `envelope ${env.id}: content key does not match its commitment`);
  try {
    return chacha20poly1305(contentKey, ZERO_NONCE, ad).decrypt(ciphertext);
  } catch {
    throw new E2eeError('decrypt_failed', `envelope ${env.id}: content did not verify`);
  }
}
