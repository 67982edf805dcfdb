// PINs and pairing/linking codes: format, comparison, and a rough (count-based, never timed) check that
// generation is uniform.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  generateLinkingCode,
  generatePairingCode,
  generatePin,
  isWellFormedPin,
  normalizeLinkingCode,
  PIN_DIGITS,
} from '../../src/main/core/pairing/pin.js';

/** Pearson chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

test('PINs are 6 ASCII digits', () => {
  assert.equal(PIN_DIGITS, 6);
  for (let i = 0; i < 2000; i++) {
    const pin = generatePin();
    assert.match(pin, /^[0-9]{6}$/);
    assert.ok(isWellFormedPin(pin));
  }
});

test('PIN generation is roughly uniform in every position and over the whole range', () => {
  const N = 60_000;
  const perPosition = Array.from({ length: PIN_DIGITS }, () => new Array<number>(10).fill(0));
  const seen = new Set<string>();
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < N; i++) {
    const pin = generatePin();
    seen.add(pin);
    const n = Number(pin);
    min = Math.min(min, n);
    max = Math.max(max, n);
    for (let p = 0; p < PIN_DIGITS; p++) perPosition[p]![pin.charCodeAt(p) - 48]!++;
  }
  // 9 degrees of freedom: P(chi2 > 45) ~ 1e-6, so a fair generator essentially never fails this, while a
  // generator that never produces a leading zero (e.g. 100000..999999) scores ~6700 in position 0.
  for (let p = 0; p < PIN_DIGITS; p++) {
    const x2 = chiSquare(perPosition[p]!);
    assert.ok(x2 < 45, `digit position ${p} is not uniform: chi2=${x2.toFixed(1)} counts=${perPosition[p]!.join(',')}`);
  }
  // Birthday count over 10^6 values: ~58,240 distinct expected (sd ~ 40). A smaller range shows up here.
  assert.ok(seen.size > 57_500, `too many repeats: ${seen.size} distinct of ${N}`);
  assert.ok(min < 1000 && max > 999_000, `range looks truncated: ${min}..${max}`);
});

test('isWellFormedPin accepts exactly six ASCII digits', () => {
  for (const ok of ['000000', '123456', '999999', '012345']) assert.equal(isWellFormedPin(ok), true, ok);
  for (const bad of [
    '',
    '12345',
    '1234567',
    '12345a',
    ' 123456',
    '123456 ',
    '123456\n',
    '12 456',
    '-12345',
    '１２３４５６',
    '١٢٣٤٥٦',
    '1e5000',
    '12345.',
  ]) {
    assert.equal(isWellFormedPin(bad), false, JSON.stringify(bad));
  }
});

test('pairing codes are random UUIDs, all distinct', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const c = generatePairingCode();
    assert.match(c, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(c);
  }
  assert.equal(seen.size, 2000);
});

test('linking codes are 8 base32 characters as ABCD-EFGH, well spread', () => {
  const N = 20_000;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const counts = new Array<number>(32).fill(0);
  const seen = new Set<string>();
  for (let i = 0; i < N; i++) {
    const c = generateLinkingCode();
    assert.match(c, /^[A-Z2-7]{4}-[A-Z2-7]{4}$/);
    seen.add(c);
    for (const ch of c.replace('-', '')) counts[alphabet.indexOf(ch)]!++;
  }
  assert.ok(seen.size >= N - 1, `40-bit codes should not repeat: ${seen.size} distinct of ${N}`);
  // 5 bytes -> exactly 8 base32 chars, so every character is 5 uniform bits. 31 dof: P(chi2 > 80) ~ 3e-6.
  const x2 = chiSquare(counts);
  assert.ok(x2 < 80, `linking code characters are not uniform: chi2=${x2.toFixed(1)}`);
});

test('normalizeLinkingCode accepts what people type', () => {
  assert.equal(normalizeLinkingCode('ABCD-EFGH'), 'ABCD-EFGH');
  assert.equal(normalizeLinkingCode('abcd-efgh'), 'ABCD-EFGH');
  assert.equal(normalizeLinkingCode('abcdefgh'), 'ABCD-EFGH');
  assert.equal(normalizeLinkingCode(' abcd efgh '), 'ABCD-EFGH');
  assert.equal(normalizeLinkingCode('AB CD-EF 23'), 'ABCD-EF23');
  // A generated code survives a round trip through typing in lower case without the dash.
  for (let i = 0; i < 100; i++) {
    const c = generateLinkingCode();
    assert.equal(normalizeLinkingCode(c.replace('-', '').toLowerCase()), c);
  }
});

test('normalizeLinkingCode does not invent a valid code from the wrong number of characters', () => {
  for (const bad of ['ABCD-EFG', 'ABCD-EFGHI', '', 'ABCD', 'ABCD-EFG0H', 'ABCD-EF1H']) {
    const n = normalizeLinkingCode(bad);
    assert.doesNotMatch(n, /^[A-Z2-7]{4}-[A-Z2-7]{4}$/, `${JSON.stringify(bad)} -> ${n}`);
  }
  // 0, 1, 8, 9 are not base32: they are never silently mapped to letters.
  assert.doesNotMatch(normalizeLinkingCode('ABCD-EFG0'), /^[A-Z2-7]{4}-[A-Z2-7]{4}$/);
  assert.doesNotMatch(normalizeLinkingCode('ABCD-EFG8'), /^[A-Z2-7]{4}-[A-Z2-7]{4}$/);
});
