// The device's own prekeys: the private halves of what it publishes to the prekey directory, and the policy that
// keeps them fresh (docs/e2ee.md "Device prekeys"). Pure functions over a plain-JSON state (bytes as base64url),
// so the state is stored in the same transaction as the message that used a key: a one-time key is deleted in
// the very commit that saves the session it started, and a crash cannot leave it usable twice.
import { randomBytes } from '@noble/hashes/utils.js';
import { fromBase64Url, toBase64Url } from '../encoding.js';
import {
  type IdentityKeyPair,
  type KemPrekeyPair,
  makeKemPrekey,
  makeOneTimePrekeys,
  makeSignedPrekey,
  type OneTimePrekeyPair,
  type ResponderKeys,
  type SignedPrekeyPair,
} from '../ratchet/pqxdh.js';
import {
  MAX_ONE_TIME_PER_PUBLISH,
  MAX_ONE_TIME_STORED,
  ONE_TIME_LOW_WATER,
  type PrekeyStatus,
  type PublishPrekeysRequest,
} from '../wire/prekeys.js';
import { DeviceKeysError } from './errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PrekeyPolicy {
  /** One-time prekeys of each kind (X25519 and KEM) made at first and topped up to on replenish. */
  oneTimeCount: number;
  /** Publish more one-time prekeys when the node holds fewer than this (ONE_TIME_LOW_WATER). */
  lowWater: number;
  /** The signed prekey and the last-resort KEM prekey are replaced when older than this. */
  rotateAfterMs: number;
  /** A replaced signed / last-resort prekey still opens late initial messages for this long, then is deleted. */
  graceMs: number;
  /** Accepted last-resort-only initial messages remembered (oldest dropped first). */
  maxReplayIds: number;
  /** Unused one-time private keys kept (the directory may have handed them out; oldest dropped past this). */
  maxLocalOneTime: number;
}

export const DEFAULT_PREKEY_POLICY: PrekeyPolicy = {
  oneTimeCount: MAX_ONE_TIME_PER_PUBLISH,
  lowWater: ONE_TIME_LOW_WATER,
  rotateAfterMs: 7 * DAY_MS,
  graceMs: 30 * DAY_MS,
  maxReplayIds: 2000,
  maxLocalOneTime: 4 * MAX_ONE_TIME_STORED,
};

interface StoredX25519 {
  id: number;
  pub: string;
  priv: string;
  /** Ids are handed to the node once: a false one goes into the next publish request. */
  published: boolean;
}
interface StoredSigned extends StoredX25519 {
  sig: string;
  created_at: number;
  /** When a newer one replaced it; deleted graceMs after. */
  replaced_at?: number;
}
interface StoredKem {
  id: number;
  pub: string;
  priv: string;
  sig: string;
  published: boolean;
  created_at: number;
  replaced_at?: number;
}

/** Everything private about this device's prekeys. Plain JSON: store it as is. */
export interface OwnPrekeysState {
  v: 1;
  /** The identity public key that signed every prekey here (a state for another identity is refused). */
  identity_key: string;
  /** Next id for any new prekey, of any kind: ids are never reused, even after deletion. */
  next_id: number;
  /** Newest last; the last is current, earlier ones are in their grace period. */
  signed: StoredSigned[];
  kem_last_resort: StoredKem[];
  one_time: StoredX25519[];
  kem_one_time: StoredKem[];
  /** initialMessageIds accepted on a last-resort KEM prekey with no one-time prekey, with that KEM prekey's id. */
  replay: { id: string; kem_id: number }[];
}

const b = toBase64Url;
const d = fromBase64Url;

function nextIds(state: OwnPrekeysState, count: number): { first: number; state: OwnPrekeysState } {
  if (state.next_id + count > 0xffff_ffff) throw new DeviceKeysError('bad_state', 'prekey ids exhausted');
  return { first: state.next_id, state: { ...state, next_id: state.next_id + count } };
}

function storedSigned(k: SignedPrekeyPair, now: number): StoredSigned {
  return { id: k.id, pub: b(k.keyPair.publicKey), priv: b(k.keyPair.privateKey), sig: b(k.signature), published: false, created_at: now };
}
function storedKem(k: KemPrekeyPair, now: number): StoredKem {
  return { id: k.id, pub: b(k.publicKey), priv: b(k.secretKey), sig: b(k.signature), published: false, created_at: now };
}
function storedOneTime(k: OneTimePrekeyPair): StoredX25519 {
  return { id: k.id, pub: b(k.keyPair.publicKey), priv: b(k.keyPair.privateKey), published: false };
}

function checkIdentity(state: OwnPrekeysState, identity: IdentityKeyPair): void {
  if (state.v !== 1 || state.identity_key !== b(identity.publicKey)) {
    throw new DeviceKeysError('bad_state', 'prekey state belongs to another identity key');
  }
}

function addOneTime(
  state: OwnPrekeysState,
  identity: IdentityKeyPair,
  x25519Count: number,
  kemCount: number,
  now: number,
  policy: PrekeyPolicy,
): OwnPrekeysState {
  let s = state;
  const a = nextIds(s, x25519Count);
  s = a.state;
  const otks = makeOneTimePrekeys(a.first, x25519Count).map(storedOneTime);
  const k = nextIds(s, kemCount);
  s = k.state;
  const kems = Array.from({ length: kemCount }, (_, i) => storedKem(makeKemPrekey(identity, k.first + i, { lastResort: false }), now));
  return {
    ...s,
    one_time: [...s.one_time, ...otks].slice(-policy.maxLocalOneTime),
    kem_one_time: [...s.kem_one_time, ...kems].slice(-policy.maxLocalOneTime),
  };
}

/**
 * Where a new state's ids start: at random in [1, 2^31). A device whose stored prekeys were lost (site data
 * cleared, another browser profile) keeps its identity and its node remembers the ids it published; starting
 * again at 1 would collide with them (prekey_id_taken) on every publish. 2^31 ids are left above the start.
 */
function firstPrekeyId(): number {
  const bytes = randomBytes(4);
  return 1 + (new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) % 0x7fff_ffff);
}

/** A new device's prekeys: a signed prekey, a last-resort KEM prekey, oneTimeCount one-time keys of each kind. */
export function createOwnPrekeys(identity: IdentityKeyPair, now: number, policy: PrekeyPolicy = DEFAULT_PREKEY_POLICY): OwnPrekeysState {
  const empty: OwnPrekeysState = {
    v: 1,
    identity_key: b(identity.publicKey),
    next_id: firstPrekeyId(),
    signed: [],
    kem_last_resort: [],
    one_time: [],
    kem_one_time: [],
    replay: [],
  };
  const withLongTerm = addLongTerm(empty, identity, now);
  return addOneTime(withLongTerm, identity, policy.oneTimeCount, policy.oneTimeCount, now, policy);
}

function addLongTerm(state: OwnPrekeysState, identity: IdentityKeyPair, now: number): OwnPrekeysState {
  const { first, state: s } = nextIds(state, 2);
  const spk = storedSigned(makeSignedPrekey(identity, first), now);
  const kem = storedKem(makeKemPrekey(identity, first + 1, { lastResort: true }), now);
  const retire = <T extends { replaced_at?: number }>(list: T[]): T[] =>
    list.map((k) => (k.replaced_at === undefined ? { ...k, replaced_at: now } : k));
  return { ...s, signed: [...retire(s.signed), spk], kem_last_resort: [...retire(s.kem_last_resort), kem] };
}

/**
 * Weekly rotation and grace expiry: a signed prekey (with the last-resort KEM prekey, so the replay list of a
 * last-resort key ends with it) older than rotateAfterMs is replaced; replaced ones older than graceMs past their
 * replacement are deleted, with the replay ids of their KEM key (a message naming a deleted key cannot open).
 */
export function rotateOwnPrekeys(
  state: OwnPrekeysState,
  identity: IdentityKeyPair,
  now: number,
  policy: PrekeyPolicy = DEFAULT_PREKEY_POLICY,
): OwnPrekeysState {
  checkIdentity(state, identity);
  const current = state.signed[state.signed.length - 1];
  let s = state;
  if (!current || now - current.created_at >= policy.rotateAfterMs) s = addLongTerm(s, identity, now);
  const live = <T extends { replaced_at?: number }>(k: T) => k.replaced_at === undefined || now - k.replaced_at < policy.graceMs;
  const kemLastResort = s.kem_last_resort.filter(live);
  const signed = s.signed.filter(live);
  // Nothing due: the same object back, so the caller can skip a write.
  if (s === state && signed.length === s.signed.length && kemLastResort.length === s.kem_last_resort.length) return state;
  const kept = new Set(kemLastResort.map((k) => k.id));
  return { ...s, signed, kem_last_resort: kemLastResort, replay: s.replay.filter((r) => kept.has(r.kem_id)) };
}

/** New one-time keys (fresh ids) for each kind the node holds fewer than lowWater of, up to oneTimeCount. */
export function replenishOwnPrekeys(
  state: OwnPrekeysState,
  identity: IdentityKeyPair,
  status: PrekeyStatus,
  now: number,
  policy: PrekeyPolicy = DEFAULT_PREKEY_POLICY,
): OwnPrekeysState {
  checkIdentity(state, identity);
  const unpublished = (list: { published: boolean }[]) => list.filter((k) => !k.published).length;
  const need = (left: number, waiting: number) =>
    left < policy.lowWater ? Math.max(0, Math.min(MAX_ONE_TIME_PER_PUBLISH, policy.oneTimeCount - left) - waiting) : 0;
  const x = need(status.one_time_left, unpublished(state.one_time));
  const k = need(status.kem_one_time_left, unpublished(state.kem_one_time));
  return x === 0 && k === 0 ? state : addOneTime(state, identity, x, k, now, policy);
}

/** What to PUT to the node: the current signed and last-resort prekeys, and the one-time keys not yet published. */
export function publishRequest(state: OwnPrekeysState): PublishPrekeysRequest {
  const spk = state.signed[state.signed.length - 1];
  const kem = state.kem_last_resort[state.kem_last_resort.length - 1];
  if (!spk || !kem) throw new DeviceKeysError('bad_state', 'no current signed or last-resort prekey');
  return {
    signed_prekey: { id: spk.id, public: spk.pub, signature: spk.sig },
    kem_last_resort: { id: kem.id, public: kem.pub, signature: kem.sig, last_resort: true },
    one_time_prekeys: state.one_time
      .filter((k) => !k.published)
      .slice(0, MAX_ONE_TIME_PER_PUBLISH)
      .map((k) => ({ id: k.id, public: k.pub })),
    kem_one_time_prekeys: state.kem_one_time
      .filter((k) => !k.published)
      .slice(0, MAX_ONE_TIME_PER_PUBLISH)
      .map((k) => ({ id: k.id, public: k.pub, signature: k.sig, last_resort: false })),
  };
}

/** True when publishRequest(state) carries something the node does not have yet. */
export function needsPublish(state: OwnPrekeysState, status: PrekeyStatus): boolean {
  const spk = state.signed[state.signed.length - 1];
  const kem = state.kem_last_resort[state.kem_last_resort.length - 1];
  return (
    status.signed_prekey_id !== spk?.id ||
    status.kem_last_resort_id !== kem?.id ||
    state.one_time.some((k) => !k.published) ||
    state.kem_one_time.some((k) => !k.published)
  );
}

/** After the node accepted `req`: its keys are marked published (never sent again). */
export function markPublished(state: OwnPrekeysState, req: PublishPrekeysRequest): OwnPrekeysState {
  const ids = new Set([
    req.signed_prekey.id,
    req.kem_last_resort.id,
    ...req.one_time_prekeys.map((k) => k.id),
    ...req.kem_one_time_prekeys.map((k) => k.id),
  ]);
  const mark = <T extends { id: number; published: boolean }>(k: T): T => (ids.has(k.id) ? { ...k, published: true } : k);
  return {
    ...state,
    signed: state.signed.map(mark),
    kem_last_resort: state.kem_last_resort.map(mark),
    one_time: state.one_time.map(mark),
    kem_one_time: state.kem_one_time.map(mark),
  };
}

/** The private keys respond() looks up, by the ids an initial message names; deleted keys are not found. */
export function responderKeys(state: OwnPrekeysState, identity: IdentityKeyPair): ResponderKeys {
  checkIdentity(state, identity);
  return {
    identity,
    signedPrekey: (id) => {
      const k = state.signed.find((x) => x.id === id);
      return k ? { id, keyPair: { publicKey: d(k.pub), privateKey: d(k.priv) }, signature: d(k.sig) } : undefined;
    },
    kemPrekey: (id) => {
      const last = state.kem_last_resort.find((x) => x.id === id);
      const k = last ?? state.kem_one_time.find((x) => x.id === id);
      return k ? { id, publicKey: d(k.pub), secretKey: d(k.priv), signature: d(k.sig), lastResort: last !== undefined } : undefined;
    },
    oneTimePrekey: (id) => {
      const k = state.one_time.find((x) => x.id === id);
      return k ? { id, keyPair: { publicKey: d(k.pub), privateKey: d(k.priv) } } : undefined;
    },
  };
}

export interface UsedPrekeys {
  initialMessageId: string;
  oneTimePrekeyId?: number;
  kemPrekeyId: number;
  kemLastResort: boolean;
}

/**
 * After an initial message started a session: the one-time keys it used are deleted; a session on the
 * last-resort KEM prekey with no one-time X25519 prekey is the one case where the same initial message would
 * derive the same key again, so its id is remembered and a second one is refused (initial_message_replayed).
 */
export function consumePrekeys(state: OwnPrekeysState, used: UsedPrekeys, policy: PrekeyPolicy = DEFAULT_PREKEY_POLICY): OwnPrekeysState {
  let replay = state.replay;
  if (used.kemLastResort && used.oneTimePrekeyId === undefined) {
    if (replay.some((r) => r.id === used.initialMessageId)) {
      throw new DeviceKeysError('initial_message_replayed', 'this initial message was already accepted on the last-resort prekey');
    }
    replay = [...replay, { id: used.initialMessageId, kem_id: used.kemPrekeyId }].slice(-policy.maxReplayIds);
  }
  return {
    ...state,
    one_time: state.one_time.filter((k) => k.id !== used.oneTimePrekeyId),
    kem_one_time: used.kemLastResort ? state.kem_one_time : state.kem_one_time.filter((k) => k.id !== used.kemPrekeyId),
    replay,
  };
}
