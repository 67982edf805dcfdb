// XEdDSA (src/shared/ratchet/xeddsa.ts): signatures made with an X25519 key verify against the X25519 public
// key, are ordinary Ed25519 signatures under the spec's converted Edwards key (checked with @noble's own
// ed25519.verify), and do not verify under another key, another message, or with any byte changed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { xeddsaSign, xeddsaVerify } from '../../src/shared/ratchet/xeddsa.js';

const enc = new TextEncoder();

function keyPair() {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

/** The spec's convert_mont: y = (u - 1) / (u + 1), sign bit 0. */
function edwardsOf(u: Uint8Array): Uint8Array {
  const Fp = ed25519.Point.Fp;
  let n = 0n;
  for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(u[i]!);
  const y = Fp.div(Fp.sub(n, 1n), Fp.add(n, 1n));
  return Fp.toBytes(y);
}

test('sign/verify round trip, for many random keys', () => {
  for (let i = 0; i < 16; i++) {
    const k = keyPair();
    const msg = enc.encode(`message ${i}`);
    const sig = xeddsaSign(k.privateKey, msg);
    assert.equal(sig.length, 64);
    assert.equal(xeddsaVerify(k.publicKey, msg, sig), true);
    // Independent check: an XEdDSA signature is an Ed25519 signature under the converted key.
    assert.equal(ed25519.verify(sig, msg, edwardsOf(k.publicKey)), true);
  }
});

test('signatures are randomized (fresh 64-byte Z each time) yet both verify', () => {
  const k = keyPair();
  const msg = enc.encode('same');
  const a = xeddsaSign(k.privateKey, msg);
  const b = xeddsaSign(k.privateKey, msg);
  assert.notDeepEqual(a, b);
  assert.equal(xeddsaVerify(k.publicKey, msg, a) && xeddsaVerify(k.publicKey, msg, b), true);
  // With a fixed Z the signature is deterministic.
  const z = new Uint8Array(64).fill(7);
  assert.deepEqual(xeddsaSign(k.privateKey, msg, z), xeddsaSign(k.privateKey, msg, z));
});

test('a signature does not verify under another key or another message', () => {
  const k = keyPair();
  const other = keyPair();
  const msg = enc.encode('prekey');
  const sig = xeddsaSign(k.privateKey, msg);
  assert.equal(xeddsaVerify(other.publicKey, msg, sig), false);
  assert.equal(xeddsaVerify(k.publicKey, enc.encode('prekeY'), sig), false);
  assert.equal(xeddsaVerify(k.publicKey, new Uint8Array(0), sig), false);
});

test('any flipped bit of the signature is refused; bad sizes and s >= q are false, not exceptions', () => {
  const k = keyPair();
  const msg = enc.encode('bits');
  const sig = xeddsaSign(k.privateKey, msg);
  for (let i = 0; i < 64; i++) {
    const bad = Uint8Array.from(sig);
    bad[i]! ^= 1 << (i % 8);
    assert.equal(xeddsaVerify(k.publicKey, msg, bad), false, `byte ${i}`);
  }
  assert.equal(xeddsaVerify(k.publicKey, msg, sig.subarray(0, 63)), false);
  assert.equal(xeddsaVerify(k.publicKey.subarray(0, 31), msg, sig), false);
  // s + q: the same point equation, but a second encoding; refused so a signature has one form.
  const q = ed25519.Point.Fn.ORDER;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
  const malleable = Uint8Array.from(sig);
  let t = s + q;
  for (let i = 32; i < 64; i++) {
    malleable[i] = Number(t & 0xffn);
    t >>= 8n;
  }
  assert.equal(xeddsaVerify(k.publicKey, msg, malleable), false);
  // u = p - 1 has no Edwards point (u + 1 = 0); u >= p is out of range.
  const pMinus1 = new Uint8Array(32).fill(0xff);
  pMinus1[0] = 0xec;
  pMinus1[31] = 0x7f;
  assert.equal(xeddsaVerify(pMinus1, msg, sig), false);
  assert.equal(xeddsaVerify(new Uint8Array(32).fill(0xff), msg, sig), false);
});
