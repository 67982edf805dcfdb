// Safety numbers: what two people compare (read aloud, or one scans the other's QR) to know that the identity
// keys their devices hold for each other are the real ones. Computed as libsignal's NumericFingerprintGenerator
// does, byte for byte, so its published test vectors check this code (tests/unit/safety-number.test.ts):
//
//   per party: h = 0x0000 (2 bytes, libsignal's internal fingerprint format 0) || 0x05 || IK || stableId,
//              then 5200 times h = SHA-512(h || 0x05 || IK)
//   displayed: first 30 bytes of h -> 6 chunks of 5 bytes (big-endian) -> each mod 100000 as 5 digits = 30 digits;
//              the two parties' 30 digits, the smaller (as strings) first = 60 digits, the same on both sides
//   scanned:   protobuf CombinedFingerprints {1: version, 2: {1: our h[0..32]}, 3: {1: their h[0..32]}}
//
// Salita's stable identifier is the caller's choice (a device or account id as UTF-8); docs/e2ee.md
// "Safety numbers".
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../encoding.js';
import { PqxdhError } from './pqxdh-errors.js';

/** 5200 iterations: libsignal's figure for > 112 bits of work against a second-preimage search. */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** The version carried by the scannable payload; libsignal's current one. */
export const SAFETY_NUMBER_VERSION = 2;
/** The version prefix inside the hash: libsignal's FINGERPRINT_VERSION, 0 for every payload version. */
const HASH_FORMAT_VERSION = Uint8Array.of(0x00, 0x00);
const DJB_TYPE = 0x05;
const DIGITS_PER_PARTY = 30;
const SCANNABLE_CONTENT_BYTES = 32;

export interface SafetyNumberParty {
  /**
   * Raw 32-byte X25519 identity public key, or several for a party that is a set of devices (a home): then the
   * keys are sorted and concatenated, as libsignal's NumericFingerprintGenerator did for a list of keys, so the
   * order they are given in does not matter and one key in a list is the same as that key alone.
   */
  readonly identityKey: Uint8Array | readonly Uint8Array[];
  /** A stable identifier of the party (bytes, or a string taken as UTF-8). */
  readonly stableId: Uint8Array | string;
}

export interface SafetyNumber {
  /** 60 digits, the same on both sides. */
  readonly digits: string;
  /** The 60 digits as 12 groups of 5, for display. */
  readonly display: string;
  /** What our QR carries (differs per side: ours first). */
  readonly scannable: Uint8Array;
  readonly version: number;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** 0x05 || key for each key, sorted: libsignal's logical key bytes of a key list. */
function logicalKeyBytes(identityKey: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const keys = identityKey instanceof Uint8Array ? [identityKey] : [...identityKey];
  if (keys.length === 0) throw new PqxdhError('invalid_argument', 'at least one identity key');
  for (const k of keys) {
    if (!(k instanceof Uint8Array) || k.length !== 32) {
      throw new PqxdhError('invalid_argument', 'identity key must be a raw 32-byte X25519 public key');
    }
  }
  return concatBytes(keys.map((k) => concatBytes([Uint8Array.of(DJB_TYPE), k])).sort(compareBytes));
}

function partyHash(party: SafetyNumberParty, iterations: number): Uint8Array {
  const publicKey = logicalKeyBytes(party.identityKey);
  const stableId = typeof party.stableId === 'string' ? utf8.encode(party.stableId) : party.stableId;
  if (!(stableId instanceof Uint8Array)) throw new PqxdhError('invalid_argument', 'stableId must be bytes or string');
  let hash = concatBytes([HASH_FORMAT_VERSION, publicKey, stableId]);
  for (let i = 0; i < iterations; i++) hash = sha512(concatBytes([hash, publicKey]));
  return hash;
}

function digitsOf(hash: Uint8Array): string {
  let out = '';
  for (let offset = 0; offset < DIGITS_PER_PARTY; offset += 5) {
    // 5 bytes = 40 bits: past 2^32, so BigInt keeps it exact.
    let chunk = 0n;
    for (let i = 0; i < 5; i++) chunk = (chunk << 8n) | BigInt(hash[offset + i]!);
    out += (chunk % 100000n).toString().padStart(5, '0');
  }
  return out;
}

function lengthDelimited(field: number, bytes: Uint8Array): Uint8Array {
  // Every length here is < 128, so it is a one-byte varint.
  return concatBytes([Uint8Array.of((field << 3) | 2, bytes.length), bytes]);
}

function logicalFingerprint(content: Uint8Array): Uint8Array {
  return lengthDelimited(1, content);
}

function encodeScannable(version: number, ours: Uint8Array, theirs: Uint8Array): Uint8Array {
  return concatBytes([
    Uint8Array.of(0x08, version),
    lengthDelimited(2, logicalFingerprint(ours)),
    lengthDelimited(3, logicalFingerprint(theirs)),
  ]);
}

/**
 * Our safety number with them. `iterations` is for tests only; every Salita side must use the default.
 * `version` is what the scannable payload carries (1 or 2; the digits are the same).
 */
export function safetyNumber(
  ours: SafetyNumberParty,
  theirs: SafetyNumberParty,
  options: { version?: number; iterations?: number } = {},
): SafetyNumber {
  const version = options.version ?? SAFETY_NUMBER_VERSION;
  const iterations = options.iterations ?? SAFETY_NUMBER_ITERATIONS;
  if (!Number.isInteger(version) || version < 1 || version > 127) {
    throw new PqxdhError('invalid_argument', 'version must be 1..127');
  }
  if (!Number.isInteger(iterations) || iterations < 1) throw new PqxdhError('invalid_argument', 'iterations >= 1');
  const ourHash = partyHash(ours, iterations);
  const theirHash = partyHash(theirs, iterations);
  const a = digitsOf(ourHash);
  const b = digitsOf(theirHash);
  const digits = a <= b ? a + b : b + a;
  return {
    digits,
    display: digits.match(/.{5}/g)!.join(' '),
    scannable: encodeScannable(version, ourHash.subarray(0, SCANNABLE_CONTENT_BYTES), theirHash.subarray(0, SCANNABLE_CONTENT_BYTES)),
    version,
  };
}

interface ParsedScannable {
  version: number;
  local: Uint8Array;
  remote: Uint8Array;
}

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  let i = at;
  while (true) {
    if (i >= bytes.length || shift > 28) throw new PqxdhError('malformed', 'scanned payload: bad varint');
    const byte = bytes[i++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, i];
    shift += 7;
  }
}

/** The fields of a protobuf message we care about (varints and byte strings); refuses other wire types. */
function readFields(bytes: Uint8Array): Map<number, number | Uint8Array> {
  const fields = new Map<number, number | Uint8Array>();
  let i = 0;
  while (i < bytes.length) {
    const [key, afterKey] = readVarint(bytes, i);
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if (wireType === 0) {
      const [value, next] = readVarint(bytes, afterKey);
      fields.set(field, value);
      i = next;
    } else if (wireType === 2) {
      const [length, start] = readVarint(bytes, afterKey);
      if (start + length > bytes.length) throw new PqxdhError('malformed', 'scanned payload: truncated');
      fields.set(field, bytes.subarray(start, start + length));
      i = start + length;
    } else {
      throw new PqxdhError('malformed', 'scanned payload: unexpected wire type');
    }
  }
  return fields;
}

function parseScannable(bytes: Uint8Array): ParsedScannable {
  if (!(bytes instanceof Uint8Array)) throw new PqxdhError('malformed', 'scanned payload must be bytes');
  const top = readFields(bytes);
  const version = top.get(1);
  const local = top.get(2);
  const remote = top.get(3);
  if (typeof version !== 'number' || !(local instanceof Uint8Array) || !(remote instanceof Uint8Array)) {
    throw new PqxdhError('malformed', 'scanned payload: missing version or fingerprints');
  }
  const content = (message: Uint8Array): Uint8Array => {
    const c = readFields(message).get(1);
    if (!(c instanceof Uint8Array) || c.length !== SCANNABLE_CONTENT_BYTES) {
      throw new PqxdhError('malformed', 'scanned payload: fingerprint content must be 32 bytes');
    }
    return c;
  };
  return { version, local: content(local), remote: content(remote) };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Compares the payload we scanned from their screen with our own safety number: true when their "local" is
 * our "remote" and the other way round. Throws `version_mismatch` for a payload of another version, and
 * `malformed` for bytes that are not a payload at all (so the UI can say "not a Salita code" apart from
 * "does not match").
 */
export function compareScannable(ours: SafetyNumber, scanned: Uint8Array): boolean {
  const mine = parseScannable(ours.scannable);
  const theirs = parseScannable(scanned);
  if (theirs.version !== mine.version) {
    throw new PqxdhError('version_mismatch', `scanned version ${theirs.version}, ours ${mine.version}`);
  }
  return equalBytes(mine.local, theirs.remote) && equalBytes(mine.remote, theirs.local);
}

/** Compares 60 typed or read-out digits with ours, ignoring spaces; false for anything not 60 digits. */
export function compareDigits(ours: SafetyNumber, typed: string): boolean {
  const compact = typeof typed === 'string' ? typed.replace(/\s/g, '') : '';
  return /^\d{60}$/.test(compact) && compact === ours.digits;
}
