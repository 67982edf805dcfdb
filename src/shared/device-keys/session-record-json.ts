// A SessionRecord (session.ts) as plain JSON, bytes as base64url, so a store can keep it next to the message it
// was advanced by (IndexedDB, or a JSON file in tests) and give back exactly the same session.
import { fromBase64Url, toBase64Url } from '../encoding.js';
import type { Session, SessionRecord } from '../ratchet/session.js';
import { type RatchetStateJson, ratchetStateFromJson, ratchetStateToJson } from '../ratchet/state.js';
import { PqxdhInitialMessage } from '../wire/prekeys.js';
import { DeviceKeysError } from './errors.js';

export interface SessionJson {
  id: string;
  peer_device: string;
  peer_identity_key: string;
  ad: string;
  ratchet: RatchetStateJson;
  pending?: PqxdhInitialMessage;
}

export interface SessionRecordJson {
  v: 1;
  current: SessionJson;
  archived: SessionJson[];
}

function sessionToJson(s: Session): SessionJson {
  return {
    id: s.id,
    peer_device: s.peerDevice,
    peer_identity_key: toBase64Url(s.peerIdentityKey),
    ad: toBase64Url(s.ad),
    ratchet: ratchetStateToJson(s.ratchet),
    ...(s.pending ? { pending: s.pending } : {}),
  };
}

export function sessionRecordToJson(r: SessionRecord): SessionRecordJson {
  return { v: 1, current: sessionToJson(r.current), archived: r.archived.map(sessionToJson) };
}

function bad(what: string): never {
  throw new DeviceKeysError('bad_state', `session record: ${what}`);
}

function sessionFromJson(x: unknown): Session {
  if (typeof x !== 'object' || x === null) bad('session not an object');
  const j = x as Record<string, unknown>;
  if (typeof j.id !== 'string' || typeof j.peer_device !== 'string') bad('id');
  if (typeof j.peer_identity_key !== 'string' || typeof j.ad !== 'string') bad('keys');
  let pending: PqxdhInitialMessage | undefined;
  if (j.pending !== undefined) {
    const p = PqxdhInitialMessage.safeParse(j.pending);
    if (!p.success) bad('pending');
    pending = p.data;
  }
  let peerIdentityKey: Uint8Array;
  let ad: Uint8Array;
  try {
    peerIdentityKey = fromBase64Url(j.peer_identity_key);
    ad = fromBase64Url(j.ad);
  } catch {
    bad('base64url');
  }
  if (peerIdentityKey.length !== 32) bad('peer_identity_key');
  return {
    id: j.id,
    peerDevice: j.peer_device,
    peerIdentityKey,
    ad,
    ratchet: ratchetStateFromJson(j.ratchet),
    ...(pending ? { pending } : {}),
  };
}

/** Parses what sessionRecordToJson gave; anything else is bad_state (or the ratchet's ratchet_bad_state). */
export function sessionRecordFromJson(x: unknown): SessionRecord {
  if (typeof x !== 'object' || x === null) bad('not an object');
  const j = x as Record<string, unknown>;
  if (j.v !== 1 || !Array.isArray(j.archived)) bad('version');
  return { current: sessionFromJson(j.current), archived: j.archived.map(sessionFromJson) };
}
