// The Double Ratchet under attack (src/shared/ratchet, docs/e2ee.md "Double Ratchet"): forward secrecy,
// post-compromise security, replay, truncation, header and ciphertext tampering, too many skipped keys, the
// per-session bound on stored keys, and the state's JSON form. Every refused message must leave the state
// byte-identical (compared through its JSON form).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex, utf8 } from '../../src/shared/encoding.js';
import { decrypt, encrypt, initReceiver, initSender, MAX_SKIP, MAX_SKIPPED_TOTAL } from '../../src/shared/ratchet/double-ratchet.js';
import { RatchetError, type RatchetErrorCode } from '../../src/shared/ratchet/errors.js';
import { decodeHeader, encodeHeader, type RatchetHeader } from '../../src/shared/ratchet/header.js';
import { kdfCk, messageKeys } from '../../src/shared/ratchet/kdf.js';
import { type RatchetState, ratchetStateFromJson, ratchetStateToJson } from '../../src/shared/ratchet/state.js';
import { NOBLE_RATCHET_SUITE } from '../../src/shared/ratchet/suite.js';

const AD = utf8.encode('alice-device|bob-device');
type Msg = { header: RatchetHeader; ciphertext: Uint8Array; text: string };

function pair() {
  const sk = new Uint8Array(32).fill(7);
  const bobKeys = NOBLE_RATCHET_SUITE.generateKeyPair();
  return { a: initSender(sk, bobKeys.publicKey), b: initReceiver(sk, bobKeys) };
}

const json = (s: RatchetState) => JSON.stringify(ratchetStateToJson(s));

function send(s: RatchetState, text: string): { state: RatchetState; msg: Msg } {
  const r = encrypt(s, utf8.encode(text), AD);
  return { state: r.state, msg: { header: r.header, ciphertext: r.ciphertext, text } };
}

function recv(s: RatchetState, m: Msg): RatchetState {
  const r = decrypt(s, m.header, m.ciphertext, AD);
  assert.equal(utf8.decode(r.plaintext), m.text);
  return r.state;
}

/** Asserts the code, and that the state handed in is exactly as it was. */
function refused(s: RatchetState, h: RatchetHeader, c: Uint8Array, code: RatchetErrorCode, ad = AD): void {
  const before = json(s);
  assert.throws(
    () => decrypt(s, h, c, ad),
    (e: unknown) => e instanceof RatchetError && e.code === code,
  );
  assert.equal(json(s), before, 'a refused message changed the state');
}

test('forward secrecy: a snapshot taken after message n cannot open messages up to n', () => {
  let { a, b } = pair();
  const sent: Msg[] = [];
  for (let i = 0; i < 5; i++) {
    const r = send(a, `m${i}`);
    a = r.state;
    sent.push(r.msg);
    b = recv(b, r.msg);
  }
  const snapshot = ratchetStateFromJson(JSON.parse(json(b)));
  for (const m of sent) refused(snapshot, m.header, m.ciphertext, 'ratchet_duplicate');
  // Whatever keys the snapshot holds or can derive forward (the receiving chain 0..50 steps on, the sending
  // chain, the root key used as a chain key), none opens an earlier ciphertext.
  const candidates: Uint8Array[] = [];
  for (const start of [snapshot.ckr, snapshot.cks, snapshot.rk]) {
    let ck = start as Uint8Array;
    for (let i = 0; i < 50; i++) {
      const next = kdfCk(ck);
      candidates.push(next.messageKeySeed);
      ck = next.chainKey;
    }
  }
  assert.equal(snapshot.skipped.length, 0);
  for (const m of sent)
    for (const seed of candidates) {
      const mk = messageKeys(seed);
      const ad = new Uint8Array([...AD, ...encodeHeader(m.header)]);
      assert.throws(() => NOBLE_RATCHET_SUITE.open(mk.cipherKey, mk.iv.subarray(0, 12), m.ciphertext, ad));
    }
});

test('post-compromise security: after a DH round trip the stolen state opens nothing new', () => {
  let { a, b } = pair();
  let r = send(a, 'one');
  a = r.state;
  b = recv(b, r.msg);
  // The attacker copies Bob's whole state here and then sees every message Bob receives.
  let attacker = ratchetStateFromJson(JSON.parse(json(b)));

  r = send(a, 'two'); // same chain: the compromise is real
  a = r.state;
  b = recv(b, r.msg);
  attacker = recv(attacker, r.msg);

  let back = send(b, 'reply one'); // Bob's ratchet key the attacker holds
  b = back.state;
  a = recv(a, back.msg);
  r = send(a, 'three'); // Alice's new key, but DH with Bob's stolen one: still readable
  a = r.state;
  b = recv(b, r.msg);
  attacker = recv(attacker, r.msg);

  back = send(b, 'reply two'); // Bob's fresh ratchet key, made after the theft
  b = back.state;
  a = recv(a, back.msg);
  for (let i = 0; i < 3; i++) {
    r = send(a, `healed ${i}`);
    a = r.state;
    b = recv(b, r.msg);
    refused(attacker, r.msg.header, r.msg.ciphertext, 'ratchet_bad_message');
  }
  // And a snapshot that missed the round trip is no better.
  refused(ratchetStateFromJson(JSON.parse(json(attacker))), r.msg.header, r.msg.ciphertext, 'ratchet_bad_message');
});

test('replay: the same message twice, and an old-chain message after a ratchet, are refused unchanged', () => {
  let { a, b } = pair();
  const r0 = send(a, 'first');
  a = r0.state;
  b = recv(b, r0.msg);
  refused(b, r0.msg.header, r0.msg.ciphertext, 'ratchet_duplicate');
  const back = send(b, 'back');
  b = back.state;
  a = recv(a, back.msg);
  refused(a, back.msg.header, back.msg.ciphertext, 'ratchet_duplicate');
  const r1 = send(a, 'new chain');
  a = r1.state;
  b = recv(b, r1.msg);
  refused(b, r0.msg.header, r0.msg.ciphertext, 'ratchet_duplicate');
  // A skipped key is used once.
  const s1 = send(a, 's1');
  const s2 = send(s1.state, 's2');
  a = s2.state;
  b = recv(b, s2.msg);
  b = recv(b, s1.msg);
  refused(b, s1.msg.header, s1.msg.ciphertext, 'ratchet_duplicate');
  refused(b, s2.msg.header, s2.msg.ciphertext, 'ratchet_duplicate');
});

test('truncated, extended, flipped ciphertext and a wrong AD are refused unchanged; the real one then opens', () => {
  let { a, b } = pair();
  const first = send(a, 'first');
  a = first.state;
  b = recv(b, first.msg);
  const r = send(a, 'a message of some length');
  const c = r.msg.ciphertext;
  for (const bad of [c.subarray(0, c.length - 1), c.subarray(0, 16), c.subarray(0, 3), new Uint8Array(0)])
    refused(b, r.msg.header, bad, 'ratchet_bad_message');
  refused(b, r.msg.header, new Uint8Array([...c, 0]), 'ratchet_bad_message');
  for (const i of [0, c.length - 1]) {
    const flipped = c.slice();
    flipped[i] = (flipped[i] as number) ^ 1;
    refused(b, r.msg.header, flipped, 'ratchet_bad_message');
  }
  refused(b, r.msg.header, c, 'ratchet_bad_message', utf8.encode('another conversation'));
  b = recv(b, r.msg);
});

test('header tampering (n, pn, ratchet key, shape) is refused unchanged; the real message then opens', () => {
  let { a, b } = pair();
  const first = send(a, 'first');
  a = first.state;
  b = recv(b, first.msg);
  const back = send(b, 'back');
  b = back.state;
  a = recv(a, back.msg);
  const r = send(a, 'tamper me'); // a new chain: pn = 1, n = 0
  const h = r.msg.header;
  const c = r.msg.ciphertext;
  assert.equal(h.pn, 1);
  refused(b, { ...h, n: h.n + 1 }, c, 'ratchet_bad_message');
  refused(b, { ...h, n: h.n + 5 }, c, 'ratchet_bad_message');
  refused(b, { ...h, pn: 0 }, c, 'ratchet_bad_message');
  refused(b, { ...h, pn: 3 }, c, 'ratchet_bad_message');
  const otherKey = NOBLE_RATCHET_SUITE.generateKeyPair().publicKey;
  refused(b, { ...h, dh: otherKey }, c, 'ratchet_bad_message');
  const flipped = h.dh.slice();
  flipped[5] = (flipped[5] as number) ^ 0x80;
  refused(b, { ...h, dh: flipped }, c, 'ratchet_bad_message');
  refused(b, { ...h, dh: new Uint8Array(32) }, c, 'ratchet_bad_message'); // low order
  refused(b, { ...h, dh: h.dh.subarray(0, 31) }, c, 'ratchet_bad_message');
  refused(b, { ...h, n: -1 }, c, 'ratchet_bad_message');
  refused(b, { ...h, n: 2 ** 32 }, c, 'ratchet_bad_message');
  refused(b, { ...h, pn: 1.5 }, c, 'ratchet_bad_message');
  assert.throws(
    () => decodeHeader(encodeHeader(h).subarray(1)),
    (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_bad_message',
  );
  const wrongVersion = encodeHeader(h);
  wrongVersion[0] = 2;
  assert.throws(
    () => decodeHeader(wrongVersion),
    (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_bad_message',
  );
  b = recv(b, { ...r.msg, header: decodeHeader(encodeHeader(h)) });
});

test(`too many skipped: a gap of ${MAX_SKIP} is taken, one more is refused unchanged (n and pn)`, () => {
  let { a, b } = pair();
  let r = send(a, 'first');
  a = r.state;
  b = recv(b, r.msg);
  // A forged header far ahead in the current chain.
  refused(b, { ...r.msg.header, n: 1 + MAX_SKIP + 1 }, r.msg.ciphertext, 'ratchet_too_many_skipped');
  refused(b, { ...r.msg.header, n: 0xffffffff }, r.msg.ciphertext, 'ratchet_too_many_skipped');
  // A forged new ratchet key claiming a huge previous chain.
  const otherKey = NOBLE_RATCHET_SUITE.generateKeyPair().publicKey;
  refused(b, { dh: otherKey, pn: 1 + MAX_SKIP + 1, n: 0 }, r.msg.ciphertext, 'ratchet_too_many_skipped');
  refused(b, { dh: otherKey, pn: 0, n: MAX_SKIP + 1 }, r.msg.ciphertext, 'ratchet_too_many_skipped');
  // Exactly MAX_SKIP lost messages: the next one opens, and so do the lost ones when they turn up.
  const lost: Msg[] = [];
  for (let i = 0; i < MAX_SKIP; i++) {
    r = send(a, `lost ${i}`);
    a = r.state;
    lost.push(r.msg);
  }
  r = send(a, 'after the gap');
  a = r.state;
  b = recv(b, r.msg);
  assert.equal(b.skipped.length, MAX_SKIP);
  b = recv(b, lost[MAX_SKIP - 1] as Msg);
  b = recv(b, lost[0] as Msg);
  assert.equal(b.skipped.length, MAX_SKIP - 2);
});

test(`at most ${MAX_SKIPPED_TOTAL} skipped keys per session: the oldest are dropped, the rest open`, () => {
  let { a, b } = pair();
  let r = send(a, 'first');
  a = r.state;
  b = recv(b, r.msg);
  const lost: Msg[] = [];
  for (let chain = 0; chain < 3; chain++) {
    for (let i = 0; i < MAX_SKIP; i++) {
      r = send(a, `lost ${chain}.${i}`);
      a = r.state;
      lost.push(r.msg);
    }
    r = send(a, `seen ${chain}`);
    a = r.state;
    b = recv(b, r.msg);
    const back = send(b, `back ${chain}`); // a DH round trip starts the next chain
    b = back.state;
    a = recv(a, back.msg);
  }
  assert.equal(b.skipped.length, MAX_SKIPPED_TOTAL);
  refused(b, (lost[0] as Msg).header, (lost[0] as Msg).ciphertext, 'ratchet_duplicate');
  refused(b, (lost[999] as Msg).header, (lost[999] as Msg).ciphertext, 'ratchet_duplicate');
  b = recv(b, lost[1000] as Msg);
  b = recv(b, lost[2999] as Msg);
});

test('state: JSON round trip continues the session; bad JSON is ratchet_bad_state; inputs never mutated', () => {
  let { a, b } = pair();
  const r = send(a, 'x');
  const aBefore = json(a);
  a = r.state;
  assert.notEqual(json(a), aBefore);
  const bBefore = json(b);
  const opened = decrypt(b, r.msg.header, r.msg.ciphertext, AD);
  assert.equal(json(b), bBefore, 'decrypt mutated its input');
  b = ratchetStateFromJson(JSON.parse(JSON.stringify(ratchetStateToJson(opened.state))));
  assert.equal(json(b), json(opened.state));
  const back = send(b, 'y');
  a = recv(ratchetStateFromJson(JSON.parse(json(a))), back.msg);
  const good = ratchetStateToJson(a);
  for (const bad of [null, 1, {}, { ...good, v: 2 }, { ...good, rk: 'AAAA' }, { ...good, ns: -1 }, { ...good, skipped: {} }])
    assert.throws(
      () => ratchetStateFromJson(bad),
      (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_bad_state',
    );
  assert.equal(toHex(ratchetStateFromJson(good).rk), toHex(a.rk));
});

test('a receiver cannot send before its first message; bad arguments are ratchet_invalid_argument', () => {
  const { b } = pair();
  assert.throws(
    () => encrypt(b, utf8.encode('too early'), AD),
    (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_cannot_send',
  );
  assert.throws(
    () => initSender(new Uint8Array(31), new Uint8Array(32)),
    (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_invalid_argument',
  );
});
