// Envelope v2 (src/shared/e2ee/envelope-v2.ts) with real Double Ratchet sessions behind its wrap callbacks: each
// recipient opens its own slot; a body swapped for another, a wrap moved to another recipient's slot or to another
// envelope, and a tampered commitment are all refused, and a refused envelope leaves the session unchanged.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { open as openV1, seal as sealV1 } from '../../src/shared/e2ee/envelope.js';
import { openV2, ratchetWrapAd, sealV2 } from '../../src/shared/e2ee/envelope-v2.js';
import { E2eeError, type E2eeErrorCode } from '../../src/shared/e2ee/errors.js';
import { EnvelopeV2, type RatchetWrap } from '../../src/shared/e2ee/schema.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { decrypt, encrypt, initReceiver, initSender } from '../../src/shared/ratchet/double-ratchet.js';
import { RatchetError } from '../../src/shared/ratchet/errors.js';
import { decodeHeader, encodeHeader } from '../../src/shared/ratchet/header.js';
import { type RatchetState, ratchetStateToJson } from '../../src/shared/ratchet/state.js';
import { NOBLE_RATCHET_SUITE } from '../../src/shared/ratchet/suite.js';

const ALICE = 'alice.phone';
const BOB = 'bob.phone';
const CAROL = 'carol.desktop';

/** Alice's sending sessions with Bob and Carol, and theirs with her (no PQXDH here: a fixed shared secret each). */
function sessions() {
  const mk = (fill: number) => {
    const sk = new Uint8Array(32).fill(fill);
    const theirs = NOBLE_RATCHET_SUITE.generateKeyPair();
    return { send: initSender(sk, theirs.publicKey), recv: initReceiver(sk, theirs) };
  };
  const bob = mk(1);
  const carol = mk(2);
  const alice = new Map<string, RatchetState>([
    [BOB, bob.send],
    [CAROL, carol.send],
  ]);
  return { alice, bob: { state: bob.recv }, carol: { state: carol.recv } };
}

function sealFrom(alice: Map<string, RatchetState>, text: string, to: string[]) {
  return sealV2(utf8.encode(text), {
    fromDevice: ALICE,
    to,
    sealWrap: (device, plaintext, ad): RatchetWrap => {
      const r = encrypt(alice.get(device)!, plaintext, ad);
      alice.set(device, r.state);
      return { h: toBase64Url(encodeHeader(r.header)), c: toBase64Url(r.ciphertext) };
    },
  });
}

/** Opens as `me`, committing the session's new state only when the whole envelope opened. */
function openAs(me: string, holder: { state: RatchetState }, envelope: unknown): string {
  let next: RatchetState | undefined;
  const { plaintext } = openV2(envelope, {
    me,
    openWrap: (wrap, ad) => {
      const r = decrypt(holder.state, decodeHeader(fromBase64Url(wrap.h)), fromBase64Url(wrap.c), ad);
      next = r.state;
      return r.plaintext;
    },
  });
  holder.state = next!;
  return utf8.decode(plaintext);
}

const json = (s: RatchetState) => JSON.stringify(ratchetStateToJson(s));

function refused(fn: () => unknown, code: E2eeErrorCode | 'ratchet') {
  assert.throws(fn, (err: unknown) => {
    if (code === 'ratchet') return err instanceof RatchetError;
    return err instanceof E2eeError && err.code === code;
  });
}

test('each recipient opens its own slot, in order and out of order, and the shape is EnvelopeV2', () => {
  const { alice, bob, carol } = sessions();
  const e1 = sealFrom(alice, 'one', [CAROL, BOB]);
  const e2 = sealFrom(alice, 'two', [BOB, CAROL]);
  assert.deepEqual(e1.to, [BOB, CAROL], 'recipients sorted');
  assert.equal(EnvelopeV2.safeParse(e1).success, true);
  assert.equal(openAs(BOB, bob, e1), 'one');
  assert.equal(openAs(BOB, bob, e2), 'two');
  assert.equal(openAs(CAROL, carol, e2), 'two', 'out of order');
  assert.equal(openAs(CAROL, carol, e1), 'one');
});

test('a body swapped for another envelope’s body is refused, and the session does not move', () => {
  const { alice, bob } = sessions();
  const e1 = sealFrom(alice, 'pay 10', [BOB]);
  const e2 = sealFrom(alice, 'pay 1000', [BOB]);
  const before = json(bob.state);
  refused(() => openAs(BOB, bob, { ...e1, ciphertext: e2.ciphertext, kc: e2.kc }), 'decrypt_failed');
  assert.equal(json(bob.state), before);
  assert.equal(openAs(BOB, bob, e1), 'pay 10', 'the real envelope still opens');
});

test('a wrap moved to another envelope, or into another recipient’s slot, does not open', () => {
  const { alice, bob, carol } = sessions();
  const e1 = sealFrom(alice, 'first', [BOB, CAROL]);
  const e2 = sealFrom(alice, 'second', [BOB]);
  // Bob's wrap of e2 carried in e1: the ratchet AD names e2's id, so it does not verify under e1's.
  refused(() => openAs(BOB, bob, { ...e1, wraps: [e2.wraps[0]!, e1.wraps[1]!] }), 'ratchet');
  // Carol's wrap in Bob's slot: Bob's session cannot open it.
  refused(() => openAs(BOB, bob, { ...e1, wraps: [e1.wraps[1]!, e1.wraps[1]!] }), 'ratchet');
  assert.equal(openAs(BOB, bob, e1), 'first');
  assert.equal(openAs(CAROL, carol, e1), 'first');
});

test('a changed id, sender, sent_at or to list is refused (all are under the content AD or the wrap AD)', () => {
  const { alice, bob } = sessions();
  const e = sealFrom(alice, 'hello', [BOB]);
  const otherId = sealFrom(alice, 'x', [BOB]).id;
  refused(() => openAs(BOB, bob, { ...e, id: otherId }), 'ratchet');
  refused(() => openAs(BOB, bob, { ...e, from_device: 'mallory.phone' }), 'ratchet');
  refused(() => openAs(BOB, bob, { ...e, sent_at: new Date(0).toISOString() }), 'decrypt_failed');
  assert.equal(openAs(BOB, bob, e), 'hello');
});

test('not a recipient, wrong version, malformed input: named errors', () => {
  const { alice, carol } = sessions();
  const e = sealFrom(alice, 'for bob', [BOB]);
  refused(() => openAs(CAROL, carol, e), 'not_a_recipient');
  refused(() => openAs(BOB, { state: carol.state }, { ...e, v: 4 }), 'version_unsupported');
  refused(() => openAs(BOB, { state: carol.state }, { ...e, wraps: [] }), 'malformed');
  const v1 = sealV1(utf8.encode('old'), {
    from: { device_id: ALICE, ...keys() },
    to: [{ device_id: BOB, publicKey: keys().publicKey }],
  });
  refused(() => openAs(BOB, { state: carol.state }, v1), 'version_unsupported');
});

test('a wrap whose plaintext is not 64 bytes is refused, and sealV2 checks its arguments', () => {
  const { alice } = sessions();
  const e = sealFrom(alice, 'x', [BOB]);
  refused(() => openV2(e, { me: BOB, openWrap: () => new Uint8Array(32) }), 'decrypt_failed');
  const sealWrap = () => ({ h: '', c: '' });
  refused(() => sealV2(utf8.encode('x'), { fromDevice: ALICE, to: [], sealWrap }), 'invalid_argument');
  refused(() => sealV2(utf8.encode('x'), { fromDevice: ALICE, to: [BOB, BOB], sealWrap }), 'invalid_argument');
  refused(() => sealV2(utf8.encode('x'), { fromDevice: 'no', to: [BOB], sealWrap }), 'invalid_argument');
  refused(() => sealV2(new Uint8Array(64 * 1024 + 1), { fromDevice: ALICE, to: [BOB], sealWrap }), 'invalid_argument');
});

test('ratchetWrapAd separates its fields (no two different triples give the same bytes)', () => {
  assert.notDeepEqual(ratchetWrapAd('ab', 'c', 'd'), ratchetWrapAd('a', 'bc', 'd'));
  assert.notDeepEqual(ratchetWrapAd('a', 'b', 'cd'), ratchetWrapAd('a', 'bc', 'd'));
});

test('v1 envelopes still open beside v2 (the old path is untouched)', () => {
  const a = keys();
  const b = keys();
  const v1 = sealV1(utf8.encode('still here'), { from: { device_id: ALICE, ...a }, to: [{ device_id: BOB, publicKey: b.publicKey }] });
  assert.equal(utf8.decode(openV1(v1, { me: { device_id: BOB, ...b }, senderPublicKey: a.publicKey })), 'still here');
});

function keys() {
  const k = NOBLE_RATCHET_SUITE.generateKeyPair();
  return { privateKey: k.privateKey, publicKey: k.publicKey };
}
