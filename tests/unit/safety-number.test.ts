// Safety numbers (src/shared/ratchet/safety-number.ts, docs/e2ee.md "Safety numbers"): libsignal's published
// vector, symmetry, sensitivity to keys and identifiers, and the scannable payload's comparison.
//
// The vector is from signalapp/libsignal-protocol-java,
// tests/src/test/java/org/whispersystems/libsignal/fingerprint/NumericFingerprintGeneratorTest.java
// (identity keys there carry the 0x05 type byte; ours are raw, so it is dropped here).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import { fromHex, toHex } from '../../src/shared/encoding.js';
import { isPqxdhError } from '../../src/shared/ratchet/pqxdh-errors.js';
import { compareDigits, compareScannable, SAFETY_NUMBER_VERSION, safetyNumber } from '../../src/shared/ratchet/safety-number.js';

const ALICE_IDENTITY = fromHex('06863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868');
const BOB_IDENTITY = fromHex('f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b');
const ALICE_ID = '+14152222222';
const BOB_ID = '+14153333333';
const DISPLAYABLE = '300354477692869396892869876765458257569162576843440918079131';
const ALICE_HASH32 = '1e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df';
const BOB_HASH32 = 'd62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d';
const scannableOf = (version: number, first: string, second: string) => `080${version}12220a20${first}1a220a20${second}`;

const alice = { identityKey: ALICE_IDENTITY, stableId: ALICE_ID };
const bob = { identityKey: BOB_IDENTITY, stableId: BOB_ID };

for (const version of [1, 2]) {
  test(`libsignal's vector, version ${version}: the displayed digits and both scannable payloads`, () => {
    const a = safetyNumber(alice, bob, { version });
    const b = safetyNumber(bob, alice, { version });
    assert.equal(a.digits, DISPLAYABLE);
    assert.equal(b.digits, DISPLAYABLE);
    assert.equal(toHex(a.scannable), scannableOf(version, ALICE_HASH32, BOB_HASH32));
    assert.equal(toHex(b.scannable), scannableOf(version, BOB_HASH32, ALICE_HASH32));
  });
}

test('the default version is 2 and the display groups the 60 digits by 5', () => {
  const a = safetyNumber(alice, bob);
  assert.equal(a.version, SAFETY_NUMBER_VERSION);
  assert.equal(SAFETY_NUMBER_VERSION, 2);
  assert.equal(a.display, DISPLAYABLE.match(/.{5}/g)!.join(' '));
});

function randomParty(id: string) {
  return { identityKey: x25519.getPublicKey(x25519.utils.randomSecretKey()), stableId: id };
}

test('symmetry: both sides see the same 60 digits, and each accepts the other QR', () => {
  const p = randomParty('device-p');
  const q = randomParty('device-q');
  const onP = safetyNumber(p, q);
  const onQ = safetyNumber(q, p);
  assert.match(onP.digits, /^\d{60}$/);
  assert.equal(onP.digits, onQ.digits);
  assert.equal(compareScannable(onP, onQ.scannable), true);
  assert.equal(compareScannable(onQ, onP.scannable), true);
  assert.equal(compareDigits(onP, onQ.display), true);
  assert.equal(compareDigits(onP, onQ.digits), true);
});

test('a changed identity key changes the number and the QR no longer matches', () => {
  const p = randomParty('device-p');
  const q = randomParty('device-q');
  const good = safetyNumber(p, q);
  const mitm = { ...q, identityKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) };
  const onMitmSide = safetyNumber(mitm, p);
  assert.notEqual(onMitmSide.digits, good.digits);
  assert.equal(compareScannable(good, onMitmSide.scannable), false);
  assert.equal(compareDigits(good, onMitmSide.digits), false);
  // One flipped bit of our own key also changes it.
  const flipped = Uint8Array.from(p.identityKey);
  flipped[0]! ^= 1;
  assert.notEqual(safetyNumber({ ...p, identityKey: flipped }, q).digits, good.digits);
});

test('a changed stable identifier changes the number', () => {
  const p = randomParty('device-p');
  const q = randomParty('device-q');
  assert.notEqual(safetyNumber(p, q).digits, safetyNumber({ ...p, stableId: 'device-x' }, q).digits);
});

test('our own QR shown back to us does not match (local and remote are swapped by design)', () => {
  const n = safetyNumber(randomParty('a'), randomParty('b'));
  assert.equal(compareScannable(n, n.scannable), false);
});

test('a payload of another version is version_mismatch; junk is malformed; neither is a crash', () => {
  const onAlice = safetyNumber(alice, bob, { version: 2 });
  const bobV1 = safetyNumber(bob, alice, { version: 1 });
  assert.throws(
    () => compareScannable(onAlice, bobV1.scannable),
    (e) => isPqxdhError(e) && e.code === 'version_mismatch',
  );
  for (const junk of [new Uint8Array(0), Uint8Array.of(0xff, 0xff), Uint8Array.of(0x08, 0x02), onAlice.scannable.subarray(0, 40)]) {
    assert.throws(
      () => compareScannable(onAlice, junk),
      (e) => isPqxdhError(e) && e.code === 'malformed',
    );
  }
  assert.equal(compareDigits(onAlice, '12345'), false);
});

test('identity keys that are not 32 bytes are refused as invalid_argument', () => {
  assert.throws(
    () => safetyNumber({ identityKey: new Uint8Array(33), stableId: 'x' }, bob),
    (e) => isPqxdhError(e) && e.code === 'invalid_argument',
  );
});

test('a home (several devices): key order does not matter, one key in a list is that key, a new device changes it', () => {
  const k1 = x25519.getPublicKey(x25519.utils.randomSecretKey());
  const k2 = x25519.getPublicKey(x25519.utils.randomSecretKey());
  const k3 = x25519.getPublicKey(x25519.utils.randomSecretKey());
  const homeA = (keys: Uint8Array[]) => ({ identityKey: keys, stableId: 'home-a' });
  const them = { identityKey: [k3], stableId: 'home-b' };
  const opts = { iterations: 50 };
  assert.equal(safetyNumber(homeA([k1, k2]), them, opts).digits, safetyNumber(homeA([k2, k1]), them, opts).digits);
  assert.equal(safetyNumber(homeA([k1]), them, opts).digits, safetyNumber({ identityKey: k1, stableId: 'home-a' }, them, opts).digits);
  assert.notEqual(safetyNumber(homeA([k1, k2]), them, opts).digits, safetyNumber(homeA([k1]), them, opts).digits);
  assert.throws(
    () => safetyNumber(homeA([]), them, opts),
    (e) => isPqxdhError(e) && e.code === 'invalid_argument',
  );
});
