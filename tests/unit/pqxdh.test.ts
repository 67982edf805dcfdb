// PQXDH (src/shared/ratchet/pqxdh.ts, docs/e2ee.md "PQXDH"): both sides derive the same key with and without a
// one-time prekey, tampered prekey signatures are refused, a wrong KEM ciphertext gives another key, unknown
// prekey ids and malformed input are typed errors, and a known-answer recomputation of the KDF with node:crypto.

import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { fromBase64Url, toBase64Url } from '../../src/shared/encoding.js';
import {
  encodeEC,
  generateIdentityKeyPair,
  type IdentityKeyPair,
  initiate,
  type KemPrekeyPair,
  makeKemPrekey,
  makeOneTimePrekeys,
  makeSignedPrekey,
  type OneTimePrekeyPair,
  PQXDH_INFO,
  publicBundle,
  type ResponderKeys,
  respond,
  type SignedPrekeyPair,
  verifyBundle,
} from '../../src/shared/ratchet/pqxdh.js';
import { isPqxdhError, type PqxdhErrorCode } from '../../src/shared/ratchet/pqxdh-errors.js';
import type { PrekeyBundle } from '../../src/shared/wire/prekeys.js';

interface Bob {
  identity: IdentityKeyPair;
  spk: SignedPrekeyPair;
  kem: KemPrekeyPair;
  opks: OneTimePrekeyPair[];
  keys: ResponderKeys;
}

function makeBob(lastResort = false): Bob {
  const identity = generateIdentityKeyPair();
  const spk = makeSignedPrekey(identity, 7);
  const kem = makeKemPrekey(identity, 11, { lastResort });
  const opks = makeOneTimePrekeys(100, 3);
  const keys: ResponderKeys = {
    identity,
    signedPrekey: (id) => (id === spk.id ? spk : undefined),
    kemPrekey: (id) => (id === kem.id ? kem : undefined),
    oneTimePrekey: (id) => opks.find((k) => k.id === id),
  };
  return { identity, spk, kem, opks, keys };
}

const isCode = (code: PqxdhErrorCode) => (e: unknown) => isPqxdhError(e) && e.code === code;

for (const withOpk of [true, false]) {
  test(`initiator and responder derive the same key and AD ${withOpk ? 'with' : 'without'} a one-time prekey`, () => {
    const bob = makeBob();
    const alice = generateIdentityKeyPair();
    const bundle = publicBundle(bob.identity, bob.spk, bob.kem, withOpk ? bob.opks[1] : undefined);
    const a = initiate(alice, bundle);
    assert.equal(a.sharedKey.length, 32);
    assert.equal(a.initialMessage.signed_prekey_id, 7);
    assert.equal(a.initialMessage.kem_prekey_id, 11);
    assert.equal(a.initialMessage.one_time_prekey_id, withOpk ? 101 : undefined);
    const b = respond(bob.keys, JSON.parse(JSON.stringify(a.initialMessage)));
    assert.deepEqual(b.sharedKey, a.sharedKey);
    assert.deepEqual(b.ad, a.ad);
    assert.deepEqual(a.ad, new Uint8Array([...encodeEC(alice.publicKey), ...encodeEC(bob.identity.publicKey)]));
    assert.deepEqual(b.peerIdentityKey, alice.publicKey);
    assert.equal(b.oneTimePrekeyId, withOpk ? 101 : undefined);
    assert.equal(b.kemPrekeyId, 11);
    assert.equal(b.kemLastResort, false);
    // A message sealed under the initiator's key opens under the responder's (what the first ratchet step does).
    const nonce = new Uint8Array(12);
    const sealed = chacha20poly1305(a.sharedKey, nonce, a.ad).encrypt(new TextEncoder().encode('hello'));
    assert.equal(new TextDecoder().decode(chacha20poly1305(b.sharedKey, nonce, b.ad).decrypt(sealed)), 'hello');
  });
}

test('two sessions with the same bundle give different keys (fresh ephemeral and KEM secret)', () => {
  const bob = makeBob(true);
  const alice = generateIdentityKeyPair();
  const bundle = publicBundle(bob.identity, bob.spk, bob.kem);
  const first = initiate(alice, bundle);
  const second = initiate(alice, bundle);
  assert.notDeepEqual(first.sharedKey, second.sharedKey);
  assert.equal(respond(bob.keys, second.initialMessage).kemLastResort, true);
});

test('the one-time prekey changes the key: dropping it from the message does not give the same key', () => {
  const bob = makeBob();
  const a = initiate(generateIdentityKeyPair(), publicBundle(bob.identity, bob.spk, bob.kem, bob.opks[0]));
  const { one_time_prekey_id: _dropped, ...without } = a.initialMessage;
  assert.notDeepEqual(respond(bob.keys, without).sharedKey, a.sharedKey);
});

function flipB64(text: string, byte = 0): string {
  const bytes = fromBase64Url(text);
  bytes[byte]! ^= 0x01;
  return toBase64Url(bytes);
}

test('a tampered signature on the signed prekey or on the KEM prekey is refused', () => {
  const bob = makeBob();
  const good = publicBundle(bob.identity, bob.spk, bob.kem, bob.opks[0]);
  assert.doesNotThrow(() => verifyBundle(good));
  const tampered: PrekeyBundle[] = [
    { ...good, signed_prekey: { ...good.signed_prekey, signature: flipB64(good.signed_prekey.signature) } },
    { ...good, signed_prekey: { ...good.signed_prekey, signature: flipB64(good.signed_prekey.signature, 40) } },
    { ...good, signed_prekey: { ...good.signed_prekey, public: flipB64(good.signed_prekey.public) } },
    { ...good, kem_prekey: { ...good.kem_prekey, signature: flipB64(good.kem_prekey.signature) } },
    { ...good, kem_prekey: { ...good.kem_prekey, public: flipB64(good.kem_prekey.public, 500) } },
    // The signatures are fine but made by someone else's identity key.
    { ...good, identity_key: toBase64Url(generateIdentityKeyPair().publicKey) },
    // The signed prekey's signature moved onto the KEM prekey and back: each signs its own encoding only.
    { ...good, kem_prekey: { ...good.kem_prekey, signature: good.signed_prekey.signature } },
  ];
  for (const bundle of tampered) {
    assert.throws(() => verifyBundle(bundle), isCode('bad_signature'));
    assert.throws(() => initiate(generateIdentityKeyPair(), bundle), isCode('bad_signature'));
  }
});

test('a bundle signed with a signed prekey from another identity is refused', () => {
  const bob = makeBob();
  const mallory = makeBob();
  const mixed = publicBundle(bob.identity, mallory.spk, bob.kem);
  assert.throws(() => verifyBundle(mixed), isCode('bad_signature'));
});

test('a wrong KEM ciphertext yields a different key, so the first message fails to open', () => {
  const bob = makeBob();
  const a = initiate(generateIdentityKeyPair(), publicBundle(bob.identity, bob.spk, bob.kem, bob.opks[0]));
  const otherCiphertext = ml_kem768.encapsulate(bob.kem.publicKey).cipherText;
  for (const kem_ciphertext of [flipB64(a.initialMessage.kem_ciphertext, 10), toBase64Url(otherCiphertext)]) {
    const b = respond(bob.keys, { ...a.initialMessage, kem_ciphertext });
    assert.notDeepEqual(b.sharedKey, a.sharedKey);
    const nonce = new Uint8Array(12);
    const sealed = chacha20poly1305(a.sharedKey, nonce, a.ad).encrypt(Uint8Array.of(1, 2, 3));
    assert.throws(() => chacha20poly1305(b.sharedKey, nonce, b.ad).decrypt(sealed));
  }
});

test('a changed ephemeral or identity key in the initial message gives a different key', () => {
  const bob = makeBob();
  const a = initiate(generateIdentityKeyPair(), publicBundle(bob.identity, bob.spk, bob.kem));
  const other = toBase64Url(generateIdentityKeyPair().publicKey);
  assert.notDeepEqual(respond(bob.keys, { ...a.initialMessage, ephemeral_key: other }).sharedKey, a.sharedKey);
  assert.notDeepEqual(respond(bob.keys, { ...a.initialMessage, identity_key: other }).sharedKey, a.sharedKey);
});

test('unknown prekey ids are unknown_prekey', () => {
  const bob = makeBob();
  const a = initiate(generateIdentityKeyPair(), publicBundle(bob.identity, bob.spk, bob.kem, bob.opks[0]));
  for (const change of [{ signed_prekey_id: 8 }, { kem_prekey_id: 12 }, { one_time_prekey_id: 999 }]) {
    assert.throws(() => respond(bob.keys, { ...a.initialMessage, ...change }), isCode('unknown_prekey'));
  }
});

test('malformed bundles and initial messages are malformed, never a TypeError', () => {
  const bob = makeBob();
  const good = publicBundle(bob.identity, bob.spk, bob.kem);
  const badBundles: unknown[] = [
    null,
    'x',
    {},
    { ...good, identity_key: 'short' },
    { ...good, kem_prekey: { ...good.kem_prekey, public: good.signed_prekey.public } },
    { ...good, signed_prekey: { ...good.signed_prekey, id: -1 } },
    { ...good, extra: 1 },
  ];
  for (const b of badBundles) assert.throws(() => verifyBundle(b), isCode('malformed'));
  const a = initiate(generateIdentityKeyPair(), good);
  const badMessages: unknown[] = [
    undefined,
    [],
    { ...a.initialMessage, kem_ciphertext: a.initialMessage.kem_ciphertext.slice(1) },
    { ...a.initialMessage, ephemeral_key: `${a.initialMessage.ephemeral_key.slice(0, 42)}!` },
    { ...a.initialMessage, signed_prekey_id: 1.5 },
  ];
  for (const m of badMessages) assert.throws(() => respond(bob.keys, m), isCode('malformed'));
});

test('a low-order public key is refused as invalid_key', () => {
  const bob = makeBob();
  const a = initiate(generateIdentityKeyPair(), publicBundle(bob.identity, bob.spk, bob.kem));
  // u = 0 is a point of order 4 on Curve25519: every DH with it is all zeros.
  const zero = toBase64Url(new Uint8Array(32));
  assert.throws(() => respond(bob.keys, { ...a.initialMessage, ephemeral_key: zero }), isCode('invalid_key'));
});

test('bad arguments from the caller are invalid_argument', () => {
  const identity = generateIdentityKeyPair();
  assert.throws(() => makeSignedPrekey(identity, -1), isCode('invalid_argument'));
  assert.throws(() => makeKemPrekey(identity, 2 ** 32, { lastResort: true }), isCode('invalid_argument'));
  assert.throws(() => makeOneTimePrekeys(2 ** 32 - 2, 3), isCode('invalid_argument'));
  assert.throws(() => makeSignedPrekey({ publicKey: new Uint8Array(31), privateKey: new Uint8Array(32) }, 1), isCode('invalid_argument'));
  assert.equal(makeOneTimePrekeys(5, 0).length, 0);
});

test('known answer: the responder key equals HKDF-SHA-256 recomputed with node:crypto from the DHs and KEM secret', () => {
  const bob = makeBob();
  const alice = generateIdentityKeyPair();
  const opk = bob.opks[2]!;
  const a = initiate(alice, publicBundle(bob.identity, bob.spk, bob.kem, opk));
  const ek = fromBase64Url(a.initialMessage.ephemeral_key);
  const ss = ml_kem768.decapsulate(fromBase64Url(a.initialMessage.kem_ciphertext), bob.kem.secretKey);
  const ikm = Buffer.concat([
    Buffer.alloc(32, 0xff),
    x25519.getSharedSecret(bob.spk.keyPair.privateKey, alice.publicKey),
    x25519.getSharedSecret(bob.identity.privateKey, ek),
    x25519.getSharedSecret(bob.spk.keyPair.privateKey, ek),
    x25519.getSharedSecret(opk.keyPair.privateKey, ek),
    ss,
  ]);
  const expected = new Uint8Array(hkdfSync('sha256', ikm, Buffer.alloc(32), PQXDH_INFO, 32));
  assert.equal(PQXDH_INFO, 'Salita_PQXDH_CURVE25519_SHA-256_ML-KEM-768');
  assert.deepEqual(a.sharedKey, expected);
});
