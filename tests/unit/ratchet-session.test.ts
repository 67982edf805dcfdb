// Device-pair sessions (src/shared/ratchet/session.ts): PQXDH start, the initial message attached until the
// peer replies, a lost first message, both sides starting at once, a duplicate, and a reinstalled peer's new
// identity ("safety number changed").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RatchetWrap } from '../../src/shared/e2ee/schema.js';
import { utf8 } from '../../src/shared/encoding.js';
import { RatchetError } from '../../src/shared/ratchet/errors.js';
import {
  generateIdentityKeyPair,
  makeKemPrekey,
  makeOneTimePrekeys,
  makeSignedPrekey,
  publicBundle,
  type ResponderKeys,
} from '../../src/shared/ratchet/pqxdh.js';
import { openOnSession, type SessionRecord, sealOnSession, startSession } from '../../src/shared/ratchet/session.js';

const AD = utf8.encode('wrap-ad');

/** A device with its prekeys and what it holds about each peer. */
function device(name: string) {
  const identity = generateIdentityKeyPair();
  const spk = makeSignedPrekey(identity, 1);
  const kem = makeKemPrekey(identity, 1, { lastResort: true });
  const otks = makeOneTimePrekeys(1, 3);
  const keys: ResponderKeys = {
    identity,
    signedPrekey: (id) => (id === spk.id ? spk : undefined),
    kemPrekey: (id) => (id === kem.id ? kem : undefined),
    oneTimePrekey: (id) => otks.find((k) => k.id === id),
  };
  const records = new Map<string, SessionRecord>();
  return {
    name,
    identity,
    keys,
    records,
    bundle: () => publicBundle(identity, spk, kem, otks[0]),
  };
}
type Device = ReturnType<typeof device>;

function send(from: Device, to: Device, text: string): RatchetWrap {
  let record = from.records.get(to.name);
  if (!record) {
    record = { current: startSession(from.identity, to.name, to.bundle()), archived: [] };
  }
  const r = sealOnSession(record.current, utf8.encode(text), AD);
  from.records.set(to.name, { ...record, current: r.session });
  return r.wrap;
}

function receive(at: Device, from: Device, wrap: RatchetWrap) {
  const r = openOnSession(at.records.get(from.name), from.name, wrap, AD, at.keys);
  at.records.set(from.name, r.record);
  return { text: utf8.decode(r.plaintext), started: r.started };
}

test('a session starts from a bundle; the initial message rides along until the peer replies', () => {
  const alice = device('alice');
  const bob = device('bob');
  const w1 = send(alice, bob, 'hi');
  const w2 = send(alice, bob, 'again');
  assert.ok(w1.pre && w2.pre, 'attached until heard back');
  const first = receive(bob, alice, w1);
  assert.equal(first.text, 'hi');
  assert.equal(first.started?.oneTimePrekeyId, 1, 'the one-time prekey it used, for deletion');
  assert.equal(first.started?.identityChanged, false);
  const second = receive(bob, alice, w2);
  assert.equal(second.text, 'again');
  assert.equal(second.started, undefined, 'the same initial message does not start a second session');
  assert.equal(receive(alice, bob, send(bob, alice, 'hello back')).text, 'hello back');
  assert.equal(send(alice, bob, 'now plain').pre, undefined, 'heard back: no initial message any more');
});

test('a lost first message does not strand the session: the second carries the initial message too', () => {
  const alice = device('alice');
  const bob = device('bob');
  send(alice, bob, 'lost');
  assert.equal(receive(bob, alice, send(alice, bob, 'arrives')).text, 'arrives');
});

test('a duplicate is refused and changes nothing', () => {
  const alice = device('alice');
  const bob = device('bob');
  const w = send(alice, bob, 'once');
  receive(bob, alice, w);
  const before = bob.records.get('alice');
  assert.throws(
    () => receive(bob, alice, w),
    (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_duplicate',
  );
  assert.equal(bob.records.get('alice'), before);
});

test('both sides start at once: every message opens, and the two settle on sessions that work', () => {
  const alice = device('alice');
  const bob = device('bob');
  const fromA = send(alice, bob, 'a1');
  const fromB = send(bob, alice, 'b1');
  assert.equal(receive(bob, alice, fromA).text, 'a1');
  assert.equal(receive(alice, bob, fromB).text, 'b1');
  for (let i = 0; i < 3; i++) {
    assert.equal(receive(bob, alice, send(alice, bob, `a${i + 2}`)).text, `a${i + 2}`);
    assert.equal(receive(alice, bob, send(bob, alice, `b${i + 2}`)).text, `b${i + 2}`);
  }
});

test('a reinstalled peer (new identity) starts a new session flagged identityChanged', () => {
  const alice = device('alice');
  const bob = device('bob');
  receive(bob, alice, send(alice, bob, 'before'));
  const reinstalled: Device = { ...device('alice') };
  const r = receive(bob, reinstalled, send(reinstalled, bob, 'after'));
  assert.equal(r.text, 'after');
  assert.equal(r.started?.identityChanged, true);
});

test('a message with no session to open it on is refused', () => {
  const alice = device('alice');
  const bob = device('bob');
  receive(bob, alice, send(alice, bob, 'start'));
  const carol = device('carol');
  const wrap = send(alice, bob, 'for bob');
  const { pre: _pre, ...bare } = wrap;
  assert.throws(
    () => openOnSession(undefined, 'alice', bare, AD, carol.keys),
    (e: unknown) => e instanceof RatchetError && e.code === 'ratchet_bad_message',
  );
});
