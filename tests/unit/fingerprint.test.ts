// The fingerprint formula, recomputed independently with node:crypto:
//   groups of 4 of base32(SHA-256(raw 32-byte public key)[0..10]).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { FINGERPRINT_BYTES, fingerprintOf, normalizeFingerprint, sameFingerprint } from '../../src/shared/fingerprint.js';

function refFingerprint(pub: Uint8Array): string {
  const digest = createHash('sha256').update(pub).digest().subarray(0, 10);
  // 80 bits -> 16 base32 characters, via BigInt (no shared code with the module under test).
  let n = BigInt(`0x${digest.toString('hex')}`);
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  for (let i = 0; i < 16; i++) {
    out = A[Number(n & 31n)] + out;
    n >>= 5n;
  }
  return `${out.slice(0, 4)}-${out.slice(4, 8)}-${out.slice(8, 12)}-${out.slice(12, 16)}`;
}

test('fingerprintOf follows the documented formula', () => {
  assert.equal(FINGERPRINT_BYTES, 10);
  for (let i = 0; i < 200; i++) {
    const pub = new Uint8Array(randomBytes(32));
    const fp = fingerprintOf(pub);
    assert.equal(fp, refFingerprint(pub));
    assert.match(fp, /^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/);
  }
  assert.equal(fingerprintOf(new Uint8Array(32)), refFingerprint(new Uint8Array(32)));
});

test('fingerprintOf depends on every byte of the key', () => {
  const pub = new Uint8Array(randomBytes(32));
  const base = fingerprintOf(pub);
  for (let i = 0; i < 32; i++) {
    const flipped = pub.slice();
    flipped[i]! ^= 1;
    assert.notEqual(fingerprintOf(flipped), base, `byte ${i}`);
  }
});

test('fingerprintOf refuses keys that are not 32 bytes', () => {
  for (const len of [0, 31, 33, 64]) assert.throws(() => fingerprintOf(new Uint8Array(len)), /32 bytes/);
});

test('normalizeFingerprint accepts the display and compact forms', () => {
  const fp = fingerprintOf(new Uint8Array(randomBytes(32)));
  const compact = fp.replace(/-/g, '');
  assert.equal(normalizeFingerprint(fp), compact);
  assert.equal(normalizeFingerprint(compact), compact);
  assert.equal(normalizeFingerprint(fp.toLowerCase()), compact);
  assert.equal(normalizeFingerprint(` ${fp.replace(/-/g, ' ')} `), compact);
});

test('normalizeFingerprint rejects junk', () => {
  const fp = fingerprintOf(new Uint8Array(randomBytes(32))).replace(/-/g, '');
  for (const bad of [
    '',
    '----',
    fp.slice(0, 15),
    `${fp}A`,
    `${fp.slice(0, 15)}0`,
    `${fp.slice(0, 15)}1`,
    `${fp.slice(0, 15)}8`,
    `${fp.slice(0, 15)}9`,
    `${fp.slice(0, 15)}=`,
    `${fp.slice(0, 15)}!`,
    `${fp}\u0000`,
    `${fp.slice(0, 15)}É`,
    'not a fingerprint at all',
  ]) {
    assert.equal(normalizeFingerprint(bad), null, JSON.stringify(bad));
  }
});

test('sameFingerprint compares forms, never matches junk', () => {
  const fp = fingerprintOf(new Uint8Array(randomBytes(32)));
  const other = fingerprintOf(new Uint8Array(randomBytes(32)));
  assert.equal(sameFingerprint(fp, fp.replace(/-/g, '').toLowerCase()), true);
  assert.equal(sameFingerprint(fp, other), false);
  assert.equal(sameFingerprint('junk', 'junk'), false);
  assert.equal(sameFingerprint('', ''), false);
  assert.equal(sameFingerprint(fp, ''), false);
});
