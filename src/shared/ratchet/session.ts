// One device pair's session: PQXDH to start it, the Double Ratchet to carry every message after. This is the
// step between the pure constructions (pqxdh.ts, double-ratchet.ts) and envelope v2's wrap callbacks: the
// initiator attaches its PQXDH initial message to every message until it hears back (a lost first message must
// not strand the session), the responder starts its side from the first one that arrives and recognises the
// same initial message on the messages after it. Every function is pure: it returns a new session and leaves the
// one handed in untouched, so the caller stores the new one together with the message (docs/e2ee.md "Sessions").

import { sha256 } from '@noble/hashes/sha2.js';
import { constantTimeEqual } from '../crypto/noise/primitives.js';
import type { RatchetWrap } from '../e2ee/schema.js';
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from '../encoding.js';
import type { PqxdhInitialMessage } from '../wire/prekeys.js';
import { decrypt, encrypt, initReceiver, initSender, type RatchetOptions } from './double-ratchet.js';
import { RatchetError } from './errors.js';
import { decodeHeader, encodeHeader } from './header.js';
import { type IdentityKeyPair, initiate, type ResponderKeys, respond } from './pqxdh.js';
import type { RatchetState } from './state.js';

export interface Session {
  /** The initial message that started it (initialMessageId), on both sides: how a session is named. */
  readonly id: string;
  readonly peerDevice: string;
  /** The peer's identity key this session was agreed with: what its safety number is computed over. */
  readonly peerIdentityKey: Uint8Array;
  /** PQXDH's AD (EncodeEC(IK_A) || EncodeEC(IK_B)), prefixed to every ratchet message's associated data. */
  readonly ad: Uint8Array;
  readonly ratchet: RatchetState;
  /** Ours, as initiator: attached to each message until the peer's first reply arrives. */
  readonly pending?: PqxdhInitialMessage;
}

/**
 * Names an initial message by what makes it unique (its ephemeral key and KEM ciphertext). The responder
 * remembers the ids it accepted: a second session from the same id is a replay (what makes a last-resort-only
 * session safe to accept once).
 */
export function initialMessageId(pre: PqxdhInitialMessage): string {
  return toBase64Url(sha256(concatBytes([utf8.encode(pre.ephemeral_key), utf8.encode('|'), utf8.encode(pre.kem_ciphertext)])));
}

/** Starts a session with a device from its prekey bundle (as claimed from the directory). Throws PqxdhError. */
export function startSession(ourIdentity: IdentityKeyPair, peerDevice: string, bundle: unknown, opts: RatchetOptions = {}): Session {
  const r = initiate(ourIdentity, bundle);
  return {
    id: initialMessageId(r.initialMessage),
    peerDevice,
    peerIdentityKey: r.bundle.identityKey,
    ad: r.ad,
    ratchet: initSender(r.sharedKey, r.bundle.signedPrekey.publicKey, opts),
    pending: r.initialMessage,
  };
}

/** Seals a wrap plaintext on the session: the new session (store it) and the wrap to send. */
export function sealOnSession(
  session: Session,
  plaintext: Uint8Array,
  ad: Uint8Array,
  opts: RatchetOptions = {},
): { session: Session; wrap: RatchetWrap } {
  const r = encrypt(session.ratchet, plaintext, concatBytes([session.ad, ad]), opts);
  const wrap: RatchetWrap = {
    ...(session.pending ? { pre: session.pending } : {}),
    h: toBase64Url(encodeHeader(r.header)),
    c: toBase64Url(r.ciphertext),
  };
  return { session: { ...session, ratchet: r.state }, wrap };
}

/**
 * Everything held about one peer device: the session we send on and a few archived ones still able to open
 * what was sent on them (both sides may start a session at once, or a retransmitted first message may arrive
 * after a newer session: each message opens on the session it was sealed on, which then becomes current).
 */
export interface SessionRecord {
  readonly current: Session;
  readonly archived: readonly Session[];
}
/** Archived sessions kept per peer device (Signal keeps 40; a handful covers crossed starts and reinstalls). */
export const MAX_ARCHIVED_SESSIONS = 5;

export interface OpenedOnSession {
  record: SessionRecord;
  plaintext: Uint8Array;
  /** Set when this message started a new session: the prekeys it used (delete the one-time ones) and its id. */
  started?: {
    initialMessageId: string;
    oneTimePrekeyId?: number;
    kemPrekeyId: number;
    kemLastResort: boolean;
    /** A session with this device existed under another identity key: "safety number changed". */
    identityChanged: boolean;
  };
}

/** Makes `session` current, archiving the one it replaces (newest first, bounded). */
export function withCurrent(record: SessionRecord | undefined, session: Session): SessionRecord {
  if (!record) return { current: session, archived: [] };
  const rest = [record.current, ...record.archived].filter((s) => s.id !== session.id);
  return { current: session, archived: rest.slice(0, MAX_ARCHIVED_SESSIONS) };
}

/**
 * Opens a wrap from `peerDevice`. `record` is what is held about it (if anything); `ours` are this device's
 * prekeys, needed when the wrap starts a new session. Throws RatchetError (ratchet_bad_message when no session
 * opens it) or PqxdhError; nothing is changed then.
 */
export function openOnSession(
  record: SessionRecord | undefined,
  peerDevice: string,
  wrap: RatchetWrap,
  ad: Uint8Array,
  ours: ResponderKeys,
  opts: RatchetOptions = {},
): OpenedOnSession {
  const header = decodeHeader(fromBase64Url(wrap.h));
  const ciphertext = fromBase64Url(wrap.c);
  const held = record ? [record.current, ...record.archived] : [];
  const id = wrap.pre ? initialMessageId(wrap.pre) : undefined;
  const started = id !== undefined ? held.find((s) => s.id === id) : undefined;
  if (wrap.pre && !started) {
    // A new session (the peer started one, or started again after a reinstall): PQXDH as responder.
    const r = respond(ours, wrap.pre);
    const spk = ours.signedPrekey(r.signedPrekeyId)!;
    const out = decrypt(initReceiver(r.sharedKey, spk.keyPair), header, ciphertext, concatBytes([r.ad, ad]), opts);
    const session: Session = { id: id!, peerDevice, peerIdentityKey: r.peerIdentityKey, ad: r.ad, ratchet: out.state };
    return {
      record: withCurrent(record, session),
      plaintext: out.plaintext,
      started: {
        initialMessageId: id!,
        ...(r.oneTimePrekeyId !== undefined ? { oneTimePrekeyId: r.oneTimePrekeyId } : {}),
        kemPrekeyId: r.kemPrekeyId,
        kemLastResort: r.kemLastResort,
        identityChanged: record !== undefined && !constantTimeEqual(record.current.peerIdentityKey, r.peerIdentityKey),
      },
    };
  }
  // The session it was sealed on: the one its initial message started, else the first that opens it.
  const candidates = started ? [started] : held;
  let firstError: unknown;
  for (const s of candidates) {
    try {
      const out = decrypt(s.ratchet, header, ciphertext, concatBytes([s.ad, ad]), opts);
      // A message on a session we started means the peer has our initial message: stop attaching it.
      const { pending: _heard, ...rest } = s;
      return { record: withCurrent(record, { ...rest, ratchet: out.state }), plaintext: out.plaintext };
    } catch (err) {
      // A duplicate is the answer of the session it belongs to; any other refusal may just be the wrong session.
      if (!(err instanceof RatchetError) || err.code === 'ratchet_duplicate') throw err;
      firstError ??= err;
    }
  }
  throw firstError ?? new RatchetError('ratchet_bad_message', `no session with ${peerDevice} to open this message on`);
}
