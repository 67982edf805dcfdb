// The Double Ratchet (Perrin & Marlinspike, "The Double Ratchet Algorithm", Signal, revision 4), with
// libsignal's KDFs (kdf.ts) and, deviating from libsignal, ChaCha20-Poly1305 for the messages: the key is
// libsignal's cipher key, the nonce the first 12 bytes of its iv, the associated data ad || header. libsignal
// uses AES-256-CBC with an HMAC-SHA256 truncated to 8 bytes; an AEAD with the whole header as AD is what the
// specification recommends, has a 16-byte tag, and matches our other ciphers (docs/e2ee.md "Double Ratchet").
//
// Pure: encrypt and decrypt never mutate the state handed in and return a new one. decrypt works on a copy and
// returns it only when the tag verified, so a replay, a tampered message or a refused skip leaves the session as
// it was, and a lost message costs only a stored skipped key.
import { concatBytes } from '../encoding.js';
import { RatchetError } from './errors.js';
import { encodeHeader, type RatchetHeader } from './header.js';
import { kdfCk, kdfRk, messageKeys } from './kdf.js';
import { cloneState, type RatchetState } from './state.js';
import { NOBLE_RATCHET_SUITE, type RatchetKeyPair, type RatchetSuite } from './suite.js';

/** Most message keys one chain step may skip (one header's n - nr, or pn - nr on a DH ratchet step). */
export const MAX_SKIP = 1000;
/** Most skipped message keys one session keeps; past it the oldest are dropped (those messages then fail). */
export const MAX_SKIPPED_TOTAL = 2000;
/** Their left ratchet keys remembered so that a late duplicate is named ratchet_duplicate. */
export const MAX_RETIRED = 32;

export interface RatchetOptions {
  suite?: RatchetSuite;
}

function check32(x: Uint8Array, what: string): void {
  if (!(x instanceof Uint8Array) || x.length !== 32) throw new RatchetError('ratchet_invalid_argument', `${what}: 32 bytes`);
}

function dh(suite: RatchetSuite, priv: Uint8Array, pub: Uint8Array): Uint8Array {
  try {
    return suite.dh(priv, pub);
  } catch {
    throw new RatchetError('ratchet_bad_message', 'ratchet key refused (low order)');
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

/**
 * Alice, who knows Bob's ratchet public key (his signed prekey in X3DH) and the shared secret. `ourRatchetKeyPair`
 * is for tests that need fixed bytes; leave it out and a fresh one is made.
 */
export function initSender(
  sharedSecret: Uint8Array,
  theirRatchetPub: Uint8Array,
  opts: RatchetOptions & { ourRatchetKeyPair?: RatchetKeyPair } = {},
): RatchetState {
  const suite = opts.suite ?? NOBLE_RATCHET_SUITE;
  check32(sharedSecret, 'shared secret');
  check32(theirRatchetPub, 'their ratchet key');
  const dhs = opts.ourRatchetKeyPair ?? suite.generateKeyPair();
  const { rootKey, chainKey } = kdfRk(sharedSecret, dh(suite, dhs.privateKey, theirRatchetPub), suite);
  return {
    dhs: { publicKey: dhs.publicKey.slice(), privateKey: dhs.privateKey.slice() },
    dhr: theirRatchetPub.slice(),
    rk: rootKey,
    cks: chainKey,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
    retired: [],
  };
}

/** Bob, whose ratchet key pair Alice used; he can send only after her first message arrived. */
export function initReceiver(sharedSecret: Uint8Array, ourRatchetKeyPair: RatchetKeyPair): RatchetState {
  check32(sharedSecret, 'shared secret');
  check32(ourRatchetKeyPair.publicKey, 'our ratchet public key');
  check32(ourRatchetKeyPair.privateKey, 'our ratchet private key');
  return {
    dhs: { publicKey: ourRatchetKeyPair.publicKey.slice(), privateKey: ourRatchetKeyPair.privateKey.slice() },
    dhr: null,
    rk: sharedSecret.slice(),
    cks: null,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
    retired: [],
  };
}

function seal(suite: RatchetSuite, seed: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, header: Uint8Array) {
  const mk = messageKeys(seed, suite);
  return suite.seal(mk.cipherKey, mk.iv.subarray(0, 12), plaintext, concatBytes([ad, header]));
}

function open(suite: RatchetSuite, seed: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array, header: Uint8Array) {
  const mk = messageKeys(seed, suite);
  try {
    return suite.open(mk.cipherKey, mk.iv.subarray(0, 12), ciphertext, concatBytes([ad, header]));
  } catch {
    throw new RatchetError('ratchet_bad_message', 'message did not verify');
  }
}

export function encrypt(
  state: RatchetState,
  plaintext: Uint8Array,
  ad: Uint8Array,
  opts: RatchetOptions = {},
): { state: RatchetState; header: RatchetHeader; ciphertext: Uint8Array } {
  const suite = opts.suite ?? NOBLE_RATCHET_SUITE;
  if (!(plaintext instanceof Uint8Array) || !(ad instanceof Uint8Array))
    throw new RatchetError('ratchet_invalid_argument', 'plaintext and ad: bytes');
  if (!state.cks) throw new RatchetError('ratchet_cannot_send', 'no sending chain before the first message arrived');
  if (state.ns >= 0xffffffff) throw new RatchetError('ratchet_cannot_send', 'sending chain exhausted');
  const s = cloneState(state);
  const { chainKey, messageKeySeed } = kdfCk(s.cks as Uint8Array, suite);
  const header: RatchetHeader = { dh: s.dhs.publicKey.slice(), pn: s.pn, n: s.ns };
  s.cks = chainKey;
  s.ns += 1;
  const ciphertext = seal(suite, messageKeySeed, plaintext, ad, encodeHeader(header));
  return { state: s, header, ciphertext };
}

/** Stores the keys of ckr's messages nr .. until-1 (not arrived yet), refusing a skip larger than MAX_SKIP. */
function skipMessageKeys(s: RatchetState, until: number, suite: RatchetSuite): void {
  if (!s.ckr || !s.dhr || until <= s.nr) return;
  if (until - s.nr > MAX_SKIP) throw new RatchetError('ratchet_too_many_skipped', `${until - s.nr} skipped messages (at most ${MAX_SKIP})`);
  let ck = s.ckr;
  while (s.nr < until) {
    const next = kdfCk(ck, suite);
    s.skipped.push({ dh: s.dhr.slice(), n: s.nr, messageKeySeed: next.messageKeySeed });
    ck = next.chainKey;
    s.nr += 1;
  }
  s.ckr = ck;
  if (s.skipped.length > MAX_SKIPPED_TOTAL) s.skipped.splice(0, s.skipped.length - MAX_SKIPPED_TOTAL);
}

function dhRatchet(s: RatchetState, header: RatchetHeader, suite: RatchetSuite): void {
  if (s.dhr) {
    s.retired.push(s.dhr);
    if (s.retired.length > MAX_RETIRED) s.retired.splice(0, s.retired.length - MAX_RETIRED);
  }
  s.pn = s.ns;
  s.ns = 0;
  s.nr = 0;
  s.dhr = header.dh.slice();
  const recv = kdfRk(s.rk, dh(suite, s.dhs.privateKey, s.dhr), suite);
  s.rk = recv.rootKey;
  s.ckr = recv.chainKey;
  s.dhs = suite.generateKeyPair();
  const send = kdfRk(s.rk, dh(suite, s.dhs.privateKey, s.dhr), suite);
  s.rk = send.rootKey;
  s.cks = send.chainKey;
}

export function decrypt(
  state: RatchetState,
  header: RatchetHeader,
  ciphertext: Uint8Array,
  ad: Uint8Array,
  opts: RatchetOptions = {},
): { state: RatchetState; plaintext: Uint8Array } {
  const suite = opts.suite ?? NOBLE_RATCHET_SUITE;
  if (!(ciphertext instanceof Uint8Array) || !(ad instanceof Uint8Array))
    throw new RatchetError('ratchet_invalid_argument', 'ciphertext and ad: bytes');
  const headerBytes = encodeHeader(header); // validates the shape: ratchet_bad_message otherwise
  const s = cloneState(state);

  const at = s.skipped.findIndex((k) => k.n === header.n && equal(k.dh, header.dh));
  const found = s.skipped[at];
  if (found) {
    const plaintext = open(suite, found.messageKeySeed, ciphertext, ad, headerBytes);
    s.skipped.splice(at, 1);
    return { state: s, plaintext };
  }
  const current = s.dhr !== null && equal(header.dh, s.dhr);
  if ((current && header.n < s.nr) || s.retired.some((k) => equal(k, header.dh)))
    throw new RatchetError('ratchet_duplicate', 'message already decrypted (or its key was dropped)');
  if (!current) {
    // Check the whole skip before doing any work, so a hostile header costs nothing.
    if (s.ckr && header.pn - s.nr > MAX_SKIP)
      throw new RatchetError('ratchet_too_many_skipped', `${header.pn - s.nr} skipped messages (at most ${MAX_SKIP})`);
    if (header.n > MAX_SKIP) throw new RatchetError('ratchet_too_many_skipped', `${header.n} skipped messages (at most ${MAX_SKIP})`);
    skipMessageKeys(s, header.pn, suite);
    dhRatchet(s, header, suite);
  }
  skipMessageKeys(s, header.n, suite);
  const { chainKey, messageKeySeed } = kdfCk(s.ckr as Uint8Array, suite);
  s.ckr = chainKey;
  s.nr += 1;
  const plaintext = open(suite, messageKeySeed, ciphertext, ad, headerBytes);
  return { state: s, plaintext };
}
