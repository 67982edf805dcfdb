// The device's own prekeys (src/shared/device-keys/own-prekeys.ts): what is published, weekly rotation with a
// grace period on a fake clock, replenishing with fresh ids, one-time keys deleted after use, and the
// last-resort replay refusal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeviceKeysError } from '../../src/shared/device-keys/errors.js';
import {
  consumePrekeys,
  createOwnPrekeys,
  markPublished,
  needsPublish,
  type OwnPrekeysState,
  type PrekeyPolicy,
  publishRequest,
  replenishOwnPrekeys,
  responderKeys,
  rotateOwnPrekeys,
} from '../../src/shared/device-keys/own-prekeys.js';
import { fromBase64Url } from '../../src/shared/encoding.js';
import {
  generateIdentityKeyPair,
  initiate,
  respond,
  verifyKemPrekeySignature,
  verifySignedPrekeySignature,
} from '../../src/shared/ratchet/pqxdh.js';
import { initialMessageId } from '../../src/shared/ratchet/session.js';
import type { PrekeyBundle, PrekeyStatus } from '../../src/shared/wire/prekeys.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 0, 1);
const POLICY: PrekeyPolicy = {
  oneTimeCount: 5,
  lowWater: 3,
  rotateAfterMs: 7 * DAY,
  graceMs: 30 * DAY,
  maxReplayIds: 3,
  maxLocalOneTime: 50,
};

const bob = generateIdentityKeyPair();
const alice = generateIdentityKeyPair();

/** A bundle as the directory would hand it out from what `state` published (no one-time keys if told so). */
function bundleOf(state: OwnPrekeysState, opts: { oneTime?: number; kemOneTime?: number } = {}): PrekeyBundle {
  const req = publishRequest(state);
  const kem = opts.kemOneTime === undefined ? req.kem_last_resort : req.kem_one_time_prekeys[opts.kemOneTime]!;
  const otk = opts.oneTime === undefined ? undefined : req.one_time_prekeys[opts.oneTime]!;
  return { identity_key: state.identity_key, signed_prekey: req.signed_prekey, kem_prekey: kem, ...(otk ? { one_time_prekey: otk } : {}) };
}

function status(state: OwnPrekeysState, left: number, kemLeft: number): PrekeyStatus {
  const req = publishRequest(state);
  return {
    signed_prekey_id: req.signed_prekey.id,
    signed_prekey_at: new Date(T0).toISOString(),
    kem_last_resort_id: req.kem_last_resort.id,
    one_time_left: left,
    kem_one_time_left: kemLeft,
  };
}

function allIds(s: OwnPrekeysState): number[] {
  return [...s.signed, ...s.kem_last_resort, ...s.one_time, ...s.kem_one_time].map((k) => k.id);
}

test('a new device publishes a signed prekey, a last-resort KEM prekey and N one-time keys of each kind, all signed', () => {
  const s = createOwnPrekeys(bob, T0, POLICY);
  const req = publishRequest(s);
  assert.equal(req.one_time_prekeys.length, 5);
  assert.equal(req.kem_one_time_prekeys.length, 5);
  assert.equal(req.kem_last_resort.last_resort, true);
  assert.ok(req.kem_one_time_prekeys.every((k) => !k.last_resort));
  assert.ok(
    verifySignedPrekeySignature(bob.publicKey, fromBase64Url(req.signed_prekey.public), fromBase64Url(req.signed_prekey.signature)),
  );
  for (const k of [req.kem_last_resort, ...req.kem_one_time_prekeys]) {
    assert.ok(verifyKemPrekeySignature(bob.publicKey, fromBase64Url(k.public), fromBase64Url(k.signature)));
  }
  const ids = allIds(s);
  assert.equal(new Set(ids).size, ids.length, 'every id distinct');
  // A bundle built from it completes PQXDH with our own responder keys.
  const init = initiate(alice, bundleOf(s, { oneTime: 0 }));
  const r = respond(responderKeys(s, bob), init.initialMessage);
  assert.deepEqual(r.sharedKey, init.sharedKey);

  const published = markPublished(s, req);
  assert.equal(needsPublish(published, status(published, 5, 5)), false);
  assert.deepEqual(publishRequest(published).one_time_prekeys, []);
  assert.equal(needsPublish(s, status(s, 5, 5)), true, 'unpublished one-time keys still to send');
  assert.throws(
    () => responderKeys(s, alice),
    (e: unknown) => e instanceof DeviceKeysError && e.code === 'bad_state',
  );
});

test('the signed prekey rotates after 7 days; the old one opens late initial messages for 30 days, then is deleted', () => {
  const s0 = createOwnPrekeys(bob, T0, POLICY);
  const oldSpk = publishRequest(s0).signed_prekey.id;
  const oldKem = publishRequest(s0).kem_last_resort.id;
  const late = initiate(alice, bundleOf(s0)); // sealed against the old keys, delivered late

  const s6 = rotateOwnPrekeys(s0, bob, T0 + 6 * DAY, POLICY);
  assert.equal(publishRequest(s6).signed_prekey.id, oldSpk, 'not yet a week');
  assert.equal(s6, s0, 'nothing due: the same state, no write needed');

  const s7 = rotateOwnPrekeys(s6, bob, T0 + 7 * DAY, POLICY);
  const newSpk = publishRequest(s7).signed_prekey.id;
  assert.notEqual(newSpk, oldSpk);
  assert.notEqual(publishRequest(s7).kem_last_resort.id, oldKem, 'the last-resort KEM prekey rotates with it');
  assert.ok(!allIds(s0).includes(newSpk), 'a fresh id');
  assert.equal(needsPublish(markPublished(s0, publishRequest(s0)), status(s0, 5, 5)), false);
  assert.equal(needsPublish(s7, status(s0, 5, 5)), true, 'the new signed prekey must be published');
  // Rotating again the same day changes nothing.
  assert.equal(publishRequest(rotateOwnPrekeys(s7, bob, T0 + 7 * DAY + 1, POLICY)).signed_prekey.id, newSpk);

  const inGrace = rotateOwnPrekeys(s7, bob, T0 + 7 * DAY + 30 * DAY - 1, POLICY);
  assert.ok(responderKeys(inGrace, bob).signedPrekey(oldSpk), 'still held in its grace period');
  assert.deepEqual(respond(responderKeys(inGrace, bob), late.initialMessage).sharedKey, late.sharedKey);

  const expired = rotateOwnPrekeys(inGrace, bob, T0 + 7 * DAY + 30 * DAY, POLICY);
  assert.equal(responderKeys(expired, bob).signedPrekey(oldSpk), undefined);
  assert.equal(responderKeys(expired, bob).kemPrekey(oldKem), undefined);
  assert.throws(() => respond(responderKeys(expired, bob), late.initialMessage), { code: 'unknown_prekey' });
  // The current one (rotated again at day 37, since 30 days passed) is intact.
  assert.ok(responderKeys(expired, bob).signedPrekey(publishRequest(expired).signed_prekey.id));
});

test('replenish: below the low-water mark new one-time keys with fresh ids, otherwise nothing', () => {
  const full = createOwnPrekeys(bob, T0, POLICY);
  const pub = markPublished(full, publishRequest(full));
  assert.equal(replenishOwnPrekeys(pub, bob, status(pub, 3, 3), T0, POLICY), pub, 'at the mark: nothing to do');

  const more = replenishOwnPrekeys(pub, bob, status(pub, 1, 4), T0, POLICY);
  const req = publishRequest(more);
  assert.equal(req.one_time_prekeys.length, 4, 'topped up to 5');
  assert.equal(req.kem_one_time_prekeys.length, 0, 'KEM one-time keys were not low');
  const before = new Set(allIds(pub));
  assert.ok(
    req.one_time_prekeys.every((k) => !before.has(k.id)),
    'ids never reused',
  );
  // Asking again before publishing does not make a second batch.
  assert.equal(publishRequest(replenishOwnPrekeys(more, bob, status(pub, 1, 4), T0, POLICY)).one_time_prekeys.length, 4);

  const kemLow = replenishOwnPrekeys(pub, bob, status(pub, 10, 0), T0, POLICY);
  assert.equal(publishRequest(kemLow).kem_one_time_prekeys.length, 5);
});

test('a one-time prekey is deleted after use: a second initial message naming it is refused', () => {
  const s = createOwnPrekeys(bob, T0, POLICY);
  const bundle = bundleOf(s, { oneTime: 2, kemOneTime: 1 });
  const first = initiate(alice, bundle);
  const r = respond(responderKeys(s, bob), first.initialMessage);
  assert.equal(r.oneTimePrekeyId, bundle.one_time_prekey!.id);
  assert.equal(r.kemLastResort, false);
  const after = consumePrekeys(s, { initialMessageId: initialMessageId(first.initialMessage), ...r }, POLICY);
  assert.equal(responderKeys(after, bob).oneTimePrekey(r.oneTimePrekeyId!), undefined);
  assert.equal(responderKeys(after, bob).kemPrekey(r.kemPrekeyId), undefined, 'the one-time KEM key too');
  assert.equal(after.one_time.length, 4);
  assert.equal(after.kem_one_time.length, 4);
  // Another initiator (or an attacker replaying the bundle) naming the same one-time key.
  const second = initiate(generateIdentityKeyPair(), bundle);
  assert.throws(() => respond(responderKeys(after, bob), second.initialMessage), { code: 'unknown_prekey' });
  // The last-resort KEM key is never deleted by use.
  const lr = initiate(alice, bundleOf(after, { oneTime: 0 }));
  const r2 = respond(responderKeys(after, bob), lr.initialMessage);
  const after2 = consumePrekeys(after, { initialMessageId: initialMessageId(lr.initialMessage), ...r2 }, POLICY);
  assert.ok(responderKeys(after2, bob).kemPrekey(r2.kemPrekeyId));
  assert.equal(after2.replay.length, 0, 'a one-time X25519 key was used: nothing to remember');
});

test('last resort only: the same initial message is accepted once; the list is bounded and ends with its key', () => {
  const s = createOwnPrekeys(bob, T0, POLICY);
  const use = (state: OwnPrekeysState) => {
    const init = initiate(alice, bundleOf(state));
    const r = respond(responderKeys(state, bob), init.initialMessage);
    assert.equal(r.kemLastResort, true);
    assert.equal(r.oneTimePrekeyId, undefined);
    return { initialMessageId: initialMessageId(init.initialMessage), ...r };
  };
  const u1 = use(s);
  const s1 = consumePrekeys(s, u1, POLICY);
  assert.throws(
    () => consumePrekeys(s1, u1, POLICY),
    (e: unknown) => e instanceof DeviceKeysError && e.code === 'initial_message_replayed',
  );
  // Other initial messages are accepted; past maxReplayIds (3) the oldest is forgotten.
  let st = s1;
  for (let i = 0; i < 3; i++) st = consumePrekeys(st, use(st), POLICY);
  assert.equal(st.replay.length, 3);
  assert.ok(!st.replay.some((r) => r.id === u1.initialMessageId));
  // When the last-resort key is deleted (rotation + grace), its replay ids go with it.
  const rotated = rotateOwnPrekeys(st, bob, T0 + 7 * DAY, POLICY);
  assert.equal(rotated.replay.length, 3, 'kept during the grace period');
  const gone = rotateOwnPrekeys(rotated, bob, T0 + 37 * DAY, POLICY);
  assert.equal(gone.replay.length, 0);
});
