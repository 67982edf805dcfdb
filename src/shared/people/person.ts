// One person's linked devices (docs/e2ee.md "Linked devices"): the roster others fan a message out to, and
// the devices that get a copy of what one of them sends. A person has its own X25519 key (the "person key"),
// created by the device that first links another, and handed only to devices that agreed to be linked, over
// their forward-secret session. The roster (name, version, devices with their identity keys) is signed with
// it (XEdDSA), and the person's id is the hash of its public key: anyone can check that a roster was made by
// one of that person's own devices, and nobody else can add a device to it or claim its id. This is the role
// Signal gives the account identity key its linked devices share. Pure functions over plain JSON.
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { byDeviceId, checkDeviceList, type DeviceKeyEntry, deviceListBytes, key32 } from '../device-list.js';
import { lp } from '../e2ee/envelope.js';
import { concatBytes, fromBase64Url, toBase64Url, toHex, u32be } from '../encoding.js';
import { xeddsaSign, xeddsaVerify } from '../ratchet/xeddsa.js';
import { PersonError } from './errors.js';

export const MAX_PERSON_DEVICES = 20;
export const MAX_PERSON_NAME_CHARS = 64;
export const PERSON_ROSTER_LABEL = 'salita/person/v1/roster';
/** Other people's records kept at most (each device that writes to us may bring one); the least recent go. */
export const MAX_KNOWN_PEOPLE = 1000;
/** Offers to link waiting for an answer, at most (one per offering device); the oldest go. */
export const MAX_PENDING_OFFERS = 10;
const PERSON_ID_LABEL = 'salita/person/v1/id';

export type PersonDevice = DeviceKeyEntry;

/** A person's devices as of `version`, signed by the person key. */
export interface PersonRoster {
  person_id: string;
  /** base64url X25519 public person key; person_id is its hash. */
  person_key: string;
  name: string;
  version: number;
  /** Sorted by device id. */
  devices: PersonDevice[];
  signature: string;
}

/**
 * What travels over a pairwise session about linking (content `{t: 'person'}`): an offer to link (with the
 * offerer's roster), its answer (join / decline), the person key for a device that joined, a new roster.
 */
export type PersonPayload =
  | { t: 'person'; op: 'offer'; roster: PersonRoster }
  | { t: 'person'; op: 'join' | 'decline'; person_id: string }
  | { t: 'person'; op: 'keys'; roster: PersonRoster; person_secret: string }
  | { t: 'person'; op: 'roster'; roster: PersonRoster };

/** What a device holds of one person: ours (with the secret), one offered to us, or a contact's roster. */
export interface PersonRecord {
  person_id: string;
  roster: PersonRoster;
  /** base64url person private key: set only for this device's own person. */
  secret?: string;
  /** Ours: devices we offered to link and that have not answered. */
  offered_to?: string[];
  /** An offer to link from this device of that person, not answered yet (or accepted, keys not come yet). */
  offer_from?: string;
  accepted?: boolean;
  /** When this device last wrote the record (its clock): the least recent go first when there are too many. */
  seen_at?: number;
}

export function personIdOf(personKey: Uint8Array): string {
  return `person-${toBase64Url(sha256(concatBytes([lp(PERSON_ID_LABEL), personKey]))).slice(0, 22)}`;
}

function bad(message: string): PersonError {
  return new PersonError('person_bad_roster', message);
}

function personKeyOf(text: unknown): Uint8Array {
  const key = key32(text);
  if (!key) throw bad('person_key is not a 32-byte key');
  return key;
}

/** A checked device list: 1..MAX_PERSON_DEVICES devices, ids valid and unique, keys 32 bytes; sorted by id. */
function checkDevices(devices: unknown): PersonDevice[] {
  return checkDeviceList(devices, MAX_PERSON_DEVICES, 'devices', (f) =>
    f.kind === 'too_many'
      ? new PersonError('person_too_large', `a person has at most ${MAX_PERSON_DEVICES} devices`)
      : bad(f.kind === 'empty' ? 'a roster lists 1 or more devices' : f.message),
  );
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim().length === 0 || [...name].length > MAX_PERSON_NAME_CHARS)
    throw new PersonError('person_invalid_argument', `a person's name is 1 to ${MAX_PERSON_NAME_CHARS} characters`);
  return name.trim();
}

/** The bytes a roster's signature covers: every field but the signature, length-prefixed, devices sorted. */
export function rosterBytes(r: Omit<PersonRoster, 'signature'>): Uint8Array {
  return concatBytes([
    lp(PERSON_ROSTER_LABEL),
    lp(r.person_id),
    lp(r.person_key),
    lp(r.name),
    u32be(r.version),
    deviceListBytes(r.devices),
  ]);
}

/** The roster as it came, checked: its id is its key's, its signature is the person key's. */
export function checkRoster(input: unknown): PersonRoster {
  const r = input as PersonRoster | null;
  if (!r || typeof r !== 'object') throw bad('not a roster');
  if (!Number.isInteger(r.version) || r.version < 1 || r.version > 0xffffffff) throw bad('version is not a positive integer');
  const personKey = personKeyOf(r.person_key);
  if (r.person_id !== personIdOf(personKey)) throw bad('person_id is not the hash of person_key');
  let name: string;
  try {
    name = checkName(r.name);
  } catch {
    throw bad('name is not 1 to 64 characters');
  }
  if (name !== r.name) throw bad('name has surrounding spaces');
  const roster: PersonRoster = {
    person_id: r.person_id,
    person_key: r.person_key,
    name,
    version: r.version,
    devices: checkDevices(r.devices),
    signature: String(r.signature),
  };
  let ok = false;
  try {
    ok = xeddsaVerify(personKey, rosterBytes(roster), fromBase64Url(roster.signature));
  } catch {
    ok = false;
  }
  if (!ok) throw bad(`the roster of ${roster.person_id} is not signed by its person key`);
  return roster;
}

function signRoster(secret: Uint8Array, fields: Omit<PersonRoster, 'signature'>): PersonRoster {
  return { ...fields, devices: [...fields.devices].sort(byDeviceId), signature: toBase64Url(xeddsaSign(secret, rosterBytes(fields))) };
}

/** A new person of one device (`me`): its key, and its first roster. */
export function newPerson(me: PersonDevice, name: string, rng?: () => Uint8Array): { roster: PersonRoster; secret: string } {
  const secret = rng ? rng() : x25519.utils.randomSecretKey();
  const personKey = x25519.getPublicKey(secret);
  const roster = signRoster(secret, {
    person_id: personIdOf(personKey),
    person_key: toBase64Url(personKey),
    name: checkName(name),
    version: 1,
    devices: [me],
  });
  return { roster, secret: toBase64Url(secret) };
}

/** The next version of our roster: these devices (and/or a new name), signed with the person key. */
export function nextRoster(roster: PersonRoster, secret: string, next: { devices?: PersonDevice[]; name?: string }): PersonRoster {
  return signRoster(fromBase64Url(secret), {
    person_id: roster.person_id,
    person_key: roster.person_key,
    name: next.name === undefined ? roster.name : checkName(next.name),
    version: roster.version + 1,
    devices: checkDevices(next.devices ?? roster.devices),
  });
}

/** Whether `secret` is the private half of the roster's person key. */
export function secretMatches(roster: PersonRoster, secret: unknown): boolean {
  try {
    return toBase64Url(x25519.getPublicKey(fromBase64Url(String(secret)))) === roster.person_key;
  } catch {
    return false;
  }
}

/**
 * Whether `incoming` replaces `held`: a later version; at the same version (two devices changed it at once),
 * the one whose signed bytes sort higher, so every device that sees both keeps the same one.
 */
export function isNewer(held: PersonRoster, incoming: PersonRoster): boolean {
  if (incoming.version !== held.version) return incoming.version > held.version;
  return toHex(rosterBytes(incoming)) > toHex(rosterBytes(held));
}

export const inRoster = (r: PersonRoster, deviceId: string) => r.devices.some((d) => d.device_id === deviceId);

/**
 * A roster that came from `from`, applied to what we hold of that person. It must come from one of its
 * devices, or from one it just removed (who tells the removed device otherwise). Older than what we hold:
 * unchanged. Our own person without us in it: we were unlinked, the secret goes.
 */
export function applyRoster(held: PersonRecord | undefined, input: unknown, ctx: { me: string; from: string }): PersonRecord | undefined {
  const roster = checkRoster(input);
  if (held && held.person_id !== roster.person_id) throw bad('a roster of another person');
  if (!inRoster(roster, ctx.from) && !(held && inRoster(held.roster, ctx.from)))
    throw new PersonError('person_not_member', `${ctx.from} is not a device of ${roster.person_id}`);
  if (held && !isNewer(held.roster, roster)) return undefined;
  const next: PersonRecord = { ...(held ?? {}), person_id: roster.person_id, roster };
  if (next.secret && !inRoster(roster, ctx.me)) {
    delete next.secret;
    delete next.offered_to;
  }
  return next;
}

/** A payload about linking, checked for shape (a roster in it is checked where it is applied). */
export function isPersonPayload(c: unknown): c is PersonPayload {
  const p = c as PersonPayload | undefined;
  return p?.t === 'person' && ['offer', 'join', 'decline', 'keys', 'roster'].includes(p.op);
}

const isOffer = (r: PersonRecord) => r.offer_from !== undefined && !r.accepted && r.secret === undefined;

/**
 * What to delete so that, with `next` written over `held`, a device keeps bounded records whatever others send
 * it: one unanswered offer per offering device (its newest), at most MAX_PENDING_OFFERS offers and
 * MAX_KNOWN_PEOPLE other people, the least recently seen going first. Our own person and `next` are kept.
 */
export function peopleToDrop(held: readonly PersonRecord[], next: readonly PersonRecord[]): PersonRecord[] {
  const keep = new Set(next.map((r) => r.person_id));
  const merged = [...held.filter((r) => !keep.has(r.person_id)), ...next];
  const drop = new Map<string, PersonRecord>();
  const offeredBy = new Set(next.filter(isOffer).map((r) => r.offer_from));
  for (const r of held) if (!keep.has(r.person_id) && isOffer(r) && offeredBy.has(r.offer_from)) drop.set(r.person_id, r);
  const oldestFirst = (list: PersonRecord[]) =>
    list.filter((r) => !keep.has(r.person_id) && !drop.has(r.person_id)).sort((a, b) => (a.seen_at ?? 0) - (b.seen_at ?? 0));
  const offers = merged.filter((r) => isOffer(r) && !drop.has(r.person_id));
  for (const r of oldestFirst(offers).slice(0, Math.max(0, offers.length - MAX_PENDING_OFFERS))) drop.set(r.person_id, r);
  const others = merged.filter((r) => r.secret === undefined && !drop.has(r.person_id));
  for (const r of oldestFirst(others).slice(0, Math.max(0, others.length - MAX_KNOWN_PEOPLE))) drop.set(r.person_id, r);
  return [...drop.values()];
}
