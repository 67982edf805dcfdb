// base64url / hex / base32 / utf8 helpers, checked against node:crypto's Buffer and RFC 4648 vectors.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fromBase64Url, fromHex, toBase32, toBase64Url, toHex, utf8 } from '../../src/shared/encoding.js';

const u8 = (b: Buffer | number[]) => new Uint8Array(b);

test('toBase64Url matches Buffer base64url for every length 0..100', () => {
  for (let len = 0; len <= 100; len++) {
    const bytes = randomBytes(len);
    const text = toBase64Url(u8(bytes));
    assert.equal(text, bytes.toString('base64url'), `length ${len}`);
    assert.doesNotMatch(text, /[=+/]/);
    assert.deepEqual(fromBase64Url(text), u8(bytes), `round trip length ${len}`);
  }
});

test('fromBase64Url returns a Uint8Array of the exact length', () => {
  const out = fromBase64Url(toBase64Url(new Uint8Array(32).fill(255)));
  assert.ok(out instanceof Uint8Array);
  assert.equal(out.length, 32);
  assert.deepEqual(out, new Uint8Array(32).fill(255));
  assert.deepEqual(fromBase64Url(''), new Uint8Array(0));
  assert.deepEqual(fromBase64Url('AA'), u8([0]));
  assert.deepEqual(fromBase64Url('_w'), u8([255]));
  assert.deepEqual(fromBase64Url('-_8'), u8([0xfb, 0xff]));
});

test('fromBase64Url rejects padding', () => {
  for (const bad of ['AA==', 'AAA=', 'AA=', 'AAAA====', '=']) assert.throws(() => fromBase64Url(bad), /invalid base64url/, bad);
});

test('fromBase64Url rejects standard-base64 and foreign characters', () => {
  for (const bad of ['AA+A', 'AA/A', 'AA A', 'AAA\n', ' AAA', 'AA.A', 'AAé', 'AA\u0000A', 'AA😀', 'AA%2', 'AA\tA']) {
    assert.throws(() => fromBase64Url(bad), /invalid base64url/, JSON.stringify(bad));
  }
});

test('fromBase64Url rejects impossible lengths', () => {
  for (const bad of ['A', 'AAAAA', 'AAAAAAAAA']) assert.throws(() => fromBase64Url(bad), /length/, bad);
});

test('fromBase64Url rejects non-zero trailing bits (one canonical text per byte string)', () => {
  // "AB": 12 bits, 8 used, trailing 4 bits = 0001. "AAB": 18 bits, 16 used, trailing 2 bits = 01.
  for (const bad of ['AB', 'AP', 'AAB', 'AAD', '_x', '__9']) assert.throws(() => fromBase64Url(bad), /invalid base64url/, bad);
  // Every non-canonical alias of a 32-byte key (43 chars, 2 trailing bits) is refused.
  const key = toBase64Url(randomBytes(32));
  const last = key.at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const idx = alphabet.indexOf(last);
  assert.equal(idx & 3, 0, 'canonical encoder leaves trailing bits zero');
  for (let k = 1; k < 4; k++) assert.throws(() => fromBase64Url(key.slice(0, -1) + alphabet[idx + k]));
});

test('fromBase64Url is stable on long inputs (no accumulator overflow)', () => {
  const bytes = randomBytes(4096);
  assert.deepEqual(fromBase64Url(bytes.toString('base64url')), u8(bytes));
});

test('hex round trip and strictness', () => {
  for (let len = 0; len <= 40; len++) {
    const bytes = randomBytes(len);
    assert.equal(toHex(u8(bytes)), bytes.toString('hex'));
    assert.deepEqual(fromHex(bytes.toString('hex')), u8(bytes));
  }
  assert.equal(toHex(u8([0, 1, 15, 16, 255])), '00010f10ff');
  assert.deepEqual(fromHex('DEADbeef'), u8([0xde, 0xad, 0xbe, 0xef]));
  for (const bad of ['0', 'abc', 'zz', '0x00', ' 00', '00 ', '0g', '+1', '-1', '０１']) {
    assert.throws(() => fromHex(bad), /invalid hex/, JSON.stringify(bad));
  }
});

/** Independent base32: via a bit string, as RFC 4648 describes it. */
function refBase32(bytes: Uint8Array): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  if (bits.length % 5) bits = bits.padEnd(bits.length + 5 - (bits.length % 5), '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += A[parseInt(bits.slice(i, i + 5), 2)];
  return out;
}

test('toBase32 matches the RFC 4648 test vectors (without padding)', () => {
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  for (const [plain, b32] of vectors) assert.equal(toBase32(utf8.encode(plain)), b32, plain);
});

test('toBase32 matches an independent implementation for random inputs', () => {
  for (let len = 0; len <= 64; len++) {
    const bytes = u8(randomBytes(len));
    const got = toBase32(bytes);
    assert.equal(got, refBase32(bytes), `length ${len}`);
    assert.equal(got.length, Math.ceil((len * 8) / 5));
    assert.match(got, /^[A-Z2-7]*$/);
  }
  assert.equal(toBase32(new Uint8Array(5).fill(255)), '77777777');
  assert.equal(toBase32(new Uint8Array(5)), 'AAAAAAAA');
});

test('utf8 round trip', () => {
  for (const s of ['', 'abc', 'héllo', '日本語', '😀 emoji', 'a\u0000b']) {
    assert.equal(utf8.decode(utf8.encode(s)), s);
    assert.deepEqual(utf8.encode(s), u8(Buffer.from(s, 'utf8')));
  }
});
