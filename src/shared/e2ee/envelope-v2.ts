// Envelope v2: the body sealed once under a random content key, as in v1, and the content key carried to each
// recipient inside a Double Ratchet message of that device pair's session instead of a static-key wrap. This file
// knows nothing of sessions: the caller's session layer seals and opens the 64-byte wrap plaintext
// (content key || content digest) under the associated data given here. So the envelope's layout and checks live
// in one place, and the ratchet's in another (docs/e2ee.md "Envelope v2").

import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { v7 as uuidv7 } from 'uuid';
import { constantTimeEqual } from '../crypto/noise/primitives.js';
import { concatBytes, toBase64Url } from '../encoding.js';
import { checkId, contentAd, contentDigest, decodeB64, keyCommitment, lp, parseEnvelope, type Rng } from './envelope.js';
import { E2eeError } from './errors.js';
import {
  ENVELOPE_VERSION_2,
  type EnvelopeV2,
  KEY_BYTES,
  MAX_PLAINTEXT_BYTES,
  MAX_RECIPIENTS,
  RATCHET_WRAP_PLAINTEXT_BYTES,
  type RatchetWrap,
} from './schema.js';

export const WRAP_AD_LABEL_V2 = 'salita/e2ee/v2/wrap-ad';
/** v2 has no envelope-wide ephemeral key: the content AD carries an empty one (its length prefix says so). */
const NO_EPK = new Uint8Array(0);
/** The content key is fresh per envelope, so the all-zero nonce is safe (as in v1). */
const ZERO_NONCE = new Uint8Array(12);

/**
 * The associated data of one recipient's ratchet message: the envelope id, the sender and that recipient, so a
 * ratchet message cannot be moved to another envelope or another recipient's slot.
 */
export function ratchetWrapAd(id: string, fromDevice: string, toDevice: string): Uint8Array {
  return concatBytes([lp(WRAP_AD_LABEL_V2), lp(id), lp(fromDevice), lp(toDevice)]);
}

/** Seals one recipient's wrap: the session layer's ratchet encrypt (and its PQXDH initial message while needed). */
export type SealWrap = (toDevice: string, wrapPlaintext: Uint8Array, ad: Uint8Array) => RatchetWrap;
/** Opens my wrap with the session of the sender; returns the 64-byte plaintext or throws the session's error. */
export type OpenWrap = (wrap: RatchetWrap, ad: Uint8Array) => Uint8Array;

export interface SealV2Options {
  fromDevice: string;
  to: string[];
  sealWrap: SealWrap;
  /** Randomness (tests): rng(32) content key, rng(16) uuid. Default: @noble's randomBytes. */
  rng?: Rng;
  now?: () => number;
}

export function sealV2(plaintext: Uint8Array, opts: SealV2Options): EnvelopeV2 {
  if (!(plaintext instanceof Uint8Array)) throw new E2eeError('invalid_argument', 'plaintext: expected a Uint8Array');
  if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new E2eeError('invalid_argument', `plaintext: over ${MAX_PLAINTEXT_BYTES} bytes`);
  const from = checkId(opts?.fromDevice, 'fromDevice');
  if (!Array.isArray(opts.to) || opts.to.length === 0 || opts.to.length > MAX_RECIPIENTS)
    throw new E2eeError('invalid_argument', `to: 1..${MAX_RECIPIENTS} recipients`);
  const to = opts.to.map((t, i) => checkId(t, `to[${i}]`)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < to.length; i++) if (to[i - 1] === to[i]) throw new E2eeError('invalid_argument', `to: duplicate device id ${to[i]}`);

  const rng: Rng = opts.rng ?? randomBytes;
  const take = (n: number): Uint8Array => {
    const b = rng(n);
    if (!(b instanceof Uint8Array) || b.length !== n) throw new E2eeError('invalid_argument', `rng(${n}) must return ${n} bytes`);
    return b;
  };
  const contentKey = take(KEY_BYTES);
  const nowMs = opts.now ? opts.now() : Date.now();
  const id = opts.rng || opts.now ? uuidv7({ msecs: nowMs, random: take(16) }) : uuidv7();
  const sent_at = new Date(nowMs).toISOString();

  const kc = keyCommitment(contentKey);
  const ad = contentAd({ v: ENVELOPE_VERSION_2, id, from_device: from, to, sent_at, epk: NO_EPK, kc });
  const ciphertext = chacha20poly1305(contentKey, ZERO_NONCE, ad).encrypt(plaintext);
  const wrapPlaintext = concatBytes([contentKey, contentDigest(ad, ciphertext)]);
  const wraps = to.map((t) => opts.sealWrap(t, wrapPlaintext, ratchetWrapAd(id, from, t)));
  return { v: ENVELOPE_VERSION_2, id, from_device: from, to, sent_at, kc: toBase64Url(kc), wraps, ciphertext: toBase64Url(ciphertext) };
}

export interface OpenV2Options {
  /** My device id. */
  me: string;
  openWrap: OpenWrap;
}

/**
 * Opens a v2 envelope for `me`. The wrap is opened first (that is the step that may change the session), then
 * its digest and the key commitment are checked against the body: a body swapped by another recipient or a
 * node is refused with decrypt_failed. The caller commits the session state it got from openWrap only when this
 * returns.
 */
export function openV2(envelope: unknown, opts: OpenV2Options): { envelope: EnvelopeV2; plaintext: Uint8Array } {
  const env = parseEnvelope(envelope);
  if (env.v !== ENVELOPE_VERSION_2) throw new E2eeError('version_unsupported', `envelope ${env.id} is version ${env.v}, not 2`);
  const me = checkId(opts?.me, 'me');
  const index = env.to.indexOf(me);
  if (index < 0) throw new E2eeError('not_a_recipient', `device ${me} is not a recipient of envelope ${env.id}`);
  const kc = decodeB64(env.kc, 'kc');
  const ciphertext = decodeB64(env.ciphertext, 'ciphertext');
  const ad = contentAd({ v: env.v, id: env.id, from_device: env.from_device, to: env.to, sent_at: env.sent_at, epk: NO_EPK, kc });
  const digest = contentDigest(ad, ciphertext);

  const wrapPlaintext = opts.openWrap(env.wraps[index]!, ratchetWrapAd(env.id, env.from_device, me));
  if (!(wrapPlaintext instanceof Uint8Array) || wrapPlaintext.length !== RATCHET_WRAP_PLAINTEXT_BYTES)
    throw new E2eeError('decrypt_failed', `envelope ${env.id}: the ratchet message did not hold a content key and digest`);
  const contentKey = wrapPlaintext.subarray(0, KEY_BYTES);
  if (!constantTimeEqual(wrapPlaintext.subarray(KEY_BYTES), digest))
    throw new E2eeError('decrypt_failed', `envelope ${env.id}: the body is not the one the sender sealed for this recipient`);
  if (!constantTimeEqual(keyCommitment(contentKey), kc))
    throw new E2eeError('decrypt_failed', `envelope ${env.id}: content key does not match its commitment`);
  try {
    return { envelope: env, plaintext: chacha20poly1305(contentKey, ZERO_NONCE, ad).decrypt(ciphertext) };
  } catch {
    throw new E2eeError('decrypt_failed', `envelope ${env.id}: content did not verify`);
  }
}
