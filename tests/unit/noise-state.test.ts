// The Noise module's own rules beyond the vectors: turn order, nonce rules and rekey, and that every bad input
// becomes a NoiseError with a stable code (never a TypeError from inside a primitive).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  CIPHER_CHACHAPOLY,
  CipherState,
  constantTimeEqual,
  DH_25519,
  type HandshakeOptions,
  HandshakeState,
  MAX_NONCE,
  NoiseError,
  parseProtocolName,
} from '../../src/shared/crypto/noise/index.js';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof NoiseError, `expected a NoiseError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    return err.code;
  }
  throw new Error('expected a NoiseError, nothing was thrown');
};

const enc = (s: string) => new TextEncoder().encode(s);

function pair(protocol: string, extra: { i?: Partial<HandshakeOptions>; r?: Partial<HandshakeOptions> } = {}) {
  const rs = DH_25519.generateKeyPair();
  const is = DH_25519.generateKeyPair();
  const psks = parseProtocolName(protocol).pskCount ? [new Uint8Array(32).fill(7)] : [];
  const i = new HandshakeState({ protocol, initiator: true, s: is, rs: rs.publicKey, psks, ...extra.i });
  const r = new HandshakeState({ protocol, initiator: false, s: rs, rs: is.publicKey, psks, ...extra.r });
  return { i, r };
}

function runXX() {
  const { i, r } = pair('Noise_XX_25519_ChaChaPoly_SHA256');
  r.readMessage(i.writeMessage());
  i.readMessage(r.writeMessage());
  r.readMessage(i.writeMessage());
  return { i: i.split(), r: r.split() };
}

describe('handshake state', () => {
  test('XX completes, both sides agree on h and on the transport keys', () => {
    const t = runXX();
    assert.ok(constantTimeEqual(t.i.handshakeHash, t.r.handshakeHash));
    assert.ok(constantTimeEqual(t.i.exported, t.r.exported));
    const ct = t.i.send.encryptWithAd(new Uint8Array(0), enc('hello'));
    assert.equal(new TextDecoder().decode(t.r.receive.decryptWithAd(new Uint8Array(0), ct)), 'hello');
  });

  test('turns are enforced: the responder cannot write first, nobody writes after the end', () => {
    const { i, r } = pair('Noise_NN_25519_ChaChaPoly_SHA256');
    assert.equal(
      code(() => r.writeMessage()),
      'bad_state',
    );
    assert.equal(
      code(() => i.readMessage(new Uint8Array(48))),
      'bad_state',
    );
    r.readMessage(i.writeMessage());
    i.readMessage(r.writeMessage());
    assert.equal(
      code(() => i.writeMessage()),
      'bad_state',
    );
    assert.equal(
      code(() => r.readMessage(new Uint8Array(48))),
      'bad_state',
    );
  });

  test('missing or malformed keys and psks fail at construction', () => {
    assert.equal(
      code(() => new HandshakeState({ protocol: 'Noise_IK_25519_ChaChaPoly_SHA256', initiator: true, s: DH_25519.generateKeyPair() })),
      'invalid_argument',
    );
    assert.equal(
      code(() => new HandshakeState({ protocol: 'Noise_XX_25519_ChaChaPoly_SHA256', initiator: true })),
      'invalid_argument',
    );
    assert.equal(
      code(() => new HandshakeState({ protocol: 'Noise_NNpsk0_25519_ChaChaPoly_SHA256', initiator: true })),
      'invalid_argument',
    );
    assert.equal(
      code(() => new HandshakeState({ protocol: 'Noise_NNpsk0_25519_ChaChaPoly_SHA256', initiator: true, psks: [new Uint8Array(31)] })),
      'invalid_key',
    );
    assert.equal(
      code(() => new HandshakeState({ protocol: 'Noise_NK_25519_ChaChaPoly_SHA256', initiator: true, rs: new Uint8Array(31) })),
      'invalid_key',
    );
    for (const bad of [
      'Noise_XXfallback_25519_ChaChaPoly_SHA256',
      'Noise_ZZ_25519_ChaChaPoly_SHA256',
      'Noise_NN_25519_ChaChaPoly',
      'Noise_NN_P256_ChaChaPoly_SHA256',
      'Noise_NNpsk9_25519_ChaChaPoly_SHA256',
      'garbage',
    ]) {
      assert.equal(
        code(() => parseProtocolName(bad)),
        'unsupported',
        bad,
      );
    }
  });

  test('a different prologue or psk on one side makes the handshake fail with decrypt_failed', () => {
    const p1 = pair('Noise_XX_25519_ChaChaPoly_SHA256', { i: { prologue: enc('a') }, r: { prologue: enc('b') } });
    p1.r.readMessage(p1.i.writeMessage());
    assert.equal(
      code(() => p1.i.readMessage(p1.r.writeMessage())),
      'decrypt_failed',
    );
    const p2 = pair('Noise_IKpsk1_25519_ChaChaPoly_SHA256', { r: { psks: [new Uint8Array(32).fill(8)] } });
    assert.equal(
      code(() => p2.r.readMessage(p2.i.writeMessage(enc('id')))),
      'decrypt_failed',
    );
  });

  test('short, oversize and tampered messages are NoiseErrors, and a failed read ends the handshake', () => {
    const { i, r } = pair('Noise_IK_25519_ChaChaPoly_SHA256');
    const m1 = i.writeMessage(enc('payload'));
    assert.equal(
      code(() => r.readMessage(m1.subarray(0, 10))),
      'message_too_short',
    );
    assert.equal(
      code(() => r.readMessage(m1)),
      'bad_state',
      'after a failed read the state is dead',
    );

    const p = pair('Noise_IK_25519_ChaChaPoly_SHA256');
    assert.equal(
      code(() => p.r.readMessage(new Uint8Array(70_000))),
      'message_too_long',
    );
    const q = pair('Noise_IK_25519_ChaChaPoly_SHA256');
    const m = q.i.writeMessage(enc('payload'));
    m[m.length - 1]! ^= 1;
    assert.equal(
      code(() => q.r.readMessage(m)),
      'decrypt_failed',
    );
    const w = pair('Noise_NN_25519_ChaChaPoly_SHA256');
    assert.equal(
      code(() => w.i.writeMessage(new Uint8Array(65_535))),
      'message_too_long',
    );
  });

  test('random garbage never escapes as anything but a NoiseError', () => {
    for (const protocol of [
      'Noise_NN_25519_ChaChaPoly_SHA256',
      'Noise_IK_25519_AESGCM_BLAKE2s',
      'Noise_XXpsk3_25519_ChaChaPoly_SHA256',
      'Noise_IKpsk1_25519_ChaChaPoly_SHA256',
    ]) {
      for (let n = 0; n < 200; n++) {
        const { r } = pair(protocol);
        const len = n < 100 ? n : Math.floor(Math.random() * 400);
        const msg = n === 150 ? new Uint8Array(32) : randomBytes(len); // n=150: an all-zero (low-order) key
        // NN's first message is unauthenticated (a key and a clear payload), so garbage may be accepted there;
        // what must never happen is any other kind of exception.
        try {
          r.readMessage(msg);
        } catch (err) {
          assert.ok(
            err instanceof NoiseError,
            `${protocol}, ${len} bytes: ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`,
          );
        }
      }
    }
  });
});

describe('cipher state', () => {
  const key = randomBytes(32);
  const ad = new Uint8Array(0);

  test('the nonce only moves forward; a forged message does not advance it', () => {
    const a = new CipherState(CIPHER_CHACHAPOLY, key);
    const b = new CipherState(CIPHER_CHACHAPOLY, key);
    const c0 = a.encryptWithAd(ad, enc('zero'));
    const c1 = a.encryptWithAd(ad, enc('one'));
    assert.notDeepEqual(c0, c1);
    assert.equal(a.nonce, 2n);
    const forged = Uint8Array.from(c0);
    forged[0]! ^= 1;
    assert.equal(
      code(() => b.decryptWithAd(ad, forged)),
      'decrypt_failed',
    );
    assert.equal(b.nonce, 0n);
    assert.equal(new TextDecoder().decode(b.decryptWithAd(ad, c0)), 'zero');
    assert.equal(
      code(() => b.decryptWithAd(ad, c0)),
      'decrypt_failed',
      'a replayed message fails: its nonce is behind',
    );
    assert.equal(new TextDecoder().decode(b.decryptWithAd(ad, c1)), 'one');
  });

  test('2^64-1 is reserved: the last usable nonce is 2^64-2, then the state refuses', () => {
    const a = new CipherState(CIPHER_CHACHAPOLY, key);
    a.setNonce(MAX_NONCE - 1n);
    a.encryptWithAd(ad, enc('last'));
    assert.equal(
      code(() => a.encryptWithAd(ad, enc('one too many'))),
      'nonce_exhausted',
    );
    const b = new CipherState(CIPHER_CHACHAPOLY, key);
    b.setNonce(MAX_NONCE);
    assert.equal(
      code(() => b.decryptWithAd(ad, new Uint8Array(32))),
      'nonce_exhausted',
    );
    assert.equal(
      code(() => b.setNonce(MAX_NONCE + 1n)),
      'invalid_argument',
    );
  });

  test('rekey: both sides rekeyed still talk; one side alone cannot be read', () => {
    const t = runXX();
    t.i.send.rekey();
    t.r.receive.rekey();
    const ct = t.i.send.encryptWithAd(ad, enc('after rekey'));
    assert.equal(new TextDecoder().decode(t.r.receive.decryptWithAd(ad, ct)), 'after rekey');
    t.i.send.rekey();
    assert.equal(
      code(() => t.r.receive.decryptWithAd(ad, t.i.send.encryptWithAd(ad, enc('x')))),
      'decrypt_failed',
    );
    assert.equal(
      code(() => new CipherState(CIPHER_CHACHAPOLY).rekey()),
      'bad_state',
    );
  });

  test('without a key, encryption is the identity (as the spec says for the first handshake tokens)', () => {
    const c = new CipherState(CIPHER_CHACHAPOLY);
    assert.deepEqual(c.encryptWithAd(ad, enc('x')), enc('x'));
  });

  test('constantTimeEqual compares content and length', () => {
    assert.equal(constantTimeEqual(enc('abc'), enc('abc')), true);
    assert.equal(constantTimeEqual(enc('abc'), enc('abd')), false);
    assert.equal(constantTimeEqual(enc('abc'), enc('abcd')), false);
  });
});
