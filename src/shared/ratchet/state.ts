// The Double Ratchet's session state and its JSON form (bytes as base64url), so that it can be stored in one
// transaction with the message it was advanced by. Plain data: decrypt() clones it, works on the clone and
// hands the clone back only when the message verified.
import { fromBase64Url, toBase64Url } from '../encoding.js';
import { RatchetError } from './errors.js';
import type { RatchetKeyPair } from './suite.js';

/** A message key kept for a message not yet arrived: which chain (their ratchet key), which index, its seed. */
export interface SkippedKey {
  dh: Uint8Array;
  n: number;
  messageKeySeed: Uint8Array;
}

export interface RatchetState {
  /** Our current ratchet key pair (DHs). */
  dhs: RatchetKeyPair;
  /** Their current ratchet public key (DHr); null on a receiver before its first message. */
  dhr: Uint8Array | null;
  rk: Uint8Array;
  cks: Uint8Array | null;
  ckr: Uint8Array | null;
  ns: number;
  nr: number;
  pn: number;
  /** Oldest first; bounded by MAX_SKIPPED_TOTAL (the oldest dropped). */
  skipped: SkippedKey[];
  /** Their ratchet keys whose chains we have left, newest last (bounded): a message on one is a duplicate. */
  retired: Uint8Array[];
}

export function cloneState(s: RatchetState): RatchetState {
  return {
    dhs: { publicKey: s.dhs.publicKey.slice(), privateKey: s.dhs.privateKey.slice() },
    dhr: s.dhr ? s.dhr.slice() : null,
    rk: s.rk.slice(),
    cks: s.cks ? s.cks.slice() : null,
    ckr: s.ckr ? s.ckr.slice() : null,
    ns: s.ns,
    nr: s.nr,
    pn: s.pn,
    skipped: s.skipped.map((k) => ({ dh: k.dh.slice(), n: k.n, messageKeySeed: k.messageKeySeed.slice() })),
    retired: s.retired.map((k) => k.slice()),
  };
}

export interface RatchetStateJson {
  v: 1;
  dhs: { pub: string; priv: string };
  dhr: string | null;
  rk: string;
  cks: string | null;
  ckr: string | null;
  ns: number;
  nr: number;
  pn: number;
  skipped: { dh: string; n: number; mk: string }[];
  retired: string[];
}

const b = toBase64Url;
const nb = (x: Uint8Array | null) => (x ? b(x) : null);

export function ratchetStateToJson(s: RatchetState): RatchetStateJson {
  return {
    v: 1,
    dhs: { pub: b(s.dhs.publicKey), priv: b(s.dhs.privateKey) },
    dhr: nb(s.dhr),
    rk: b(s.rk),
    cks: nb(s.cks),
    ckr: nb(s.ckr),
    ns: s.ns,
    nr: s.nr,
    pn: s.pn,
    skipped: s.skipped.map((k) => ({ dh: b(k.dh), n: k.n, mk: b(k.messageKeySeed) })),
    retired: s.retired.map(b),
  };
}

function bad(what: string): never {
  throw new RatchetError('ratchet_bad_state', `ratchet state: ${what}`);
}
function key32(x: unknown, what: string): Uint8Array {
  if (typeof x !== 'string') bad(what);
  let out: Uint8Array;
  try {
    out = fromBase64Url(x);
  } catch {
    bad(what);
  }
  if (out.length !== 32) bad(what);
  return out;
}
function key32OrNull(x: unknown, what: string): Uint8Array | null {
  return x === null ? null : key32(x, what);
}
function u32(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xffffffff) bad(what);
  return x;
}

/** Parses what ratchetStateToJson gave (or JSON.parse of its string); anything else is ratchet_bad_state. */
export function ratchetStateFromJson(json: unknown): RatchetState {
  if (typeof json !== 'object' || json === null) bad('not an object');
  const j = json as Record<string, unknown>;
  if (j.v !== 1) bad('version');
  const dhs = j.dhs as Record<string, unknown> | null;
  if (typeof dhs !== 'object' || dhs === null) bad('dhs');
  if (!Array.isArray(j.skipped) || !Array.isArray(j.retired)) bad('lists');
  return {
    dhs: { publicKey: key32(dhs.pub, 'dhs.pub'), privateKey: key32(dhs.priv, 'dhs.priv') },
    dhr: key32OrNull(j.dhr, 'dhr'),
    rk: key32(j.rk, 'rk'),
    cks: key32OrNull(j.cks, 'cks'),
    ckr: key32OrNull(j.ckr, 'ckr'),
    ns: u32(j.ns, 'ns'),
    nr: u32(j.nr, 'nr'),
    pn: u32(j.pn, 'pn'),
    skipped: (j.skipped as unknown[]).map((k) => {
      if (typeof k !== 'object' || k === null) bad('skipped');
      const r = k as Record<string, unknown>;
      return { dh: key32(r.dh, 'skipped.dh'), n: u32(r.n, 'skipped.n'), messageKeySeed: key32(r.mk, 'skipped.mk') };
    }),
    retired: (j.retired as unknown[]).map((k) => key32(k, 'retired')),
  };
}
