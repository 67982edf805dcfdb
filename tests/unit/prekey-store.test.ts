// The node's prekey directory (src/main/core/prekeys/prekey-store.ts) on a real, migrated SQLite file: a claimed
// bundle passes verifyBundle() and completes PQXDH with the device's private keys; each one-time prekey is handed
// out at most once, also across a reopen of the file; forged signatures, reused ids and too many keys are refused
// with nothing stored; keys moving to the cloud are never claimed here.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OpenDatabase } from '../../src/main/core/db/open-database.js';
import { PrekeyRepository } from '../../src/main/core/db/prekey-repository.js';
import { isPrekeyError } from '../../src/main/core/prekeys/prekey-error.js';
import { PrekeyStore } from '../../src/main/core/prekeys/prekey-store.js';
import { fromBase64Url, toBase64Url } from '../../src/shared/encoding.js';
import {
  generateIdentityKeyPair,
  initiate,
  kemPrekeyWire,
  makeKemPrekey,
  makeSignedPrekey,
  respond,
  signedPrekeyWire,
  verifyBundle,
} from '../../src/shared/ratchet/pqxdh.js';
import { xeddsaSign } from '../../src/shared/ratchet/xeddsa.js';
import { MAX_ONE_TIME_STORED, type PrekeyBundle, type PrekeyErrorCode, PublishPrekeysRequest } from '../../src/shared/wire/prekeys.js';
import { PrekeyDevice } from '../helpers/prekey-device.js';
import { tempDatabases } from '../helpers/temp-databases.js';

const temp = tempDatabases('salita-unit-prekeys-');
const freshDir = temp.freshDir;
function open(dir: string, maxOneTimeStored?: number): { db: OpenDatabase; store: PrekeyStore } {
  const db = temp.open(dir);
  return { db, store: new PrekeyStore(new PrekeyRepository(db.db), maxOneTimeStored) };
}
const freshStore = (maxOneTimeStored?: number) => open(freshDir(), maxOneTimeStored).store;

class Device extends PrekeyDevice {}

function bundleOf(r: PrekeyBundle | 'no_prekeys'): PrekeyBundle {
  assert.notEqual(r, 'no_prekeys');
  return r as PrekeyBundle;
}

const refusedWith = (code: PrekeyErrorCode) => (e: unknown) => {
  assert.ok(isPrekeyError(e, code), `expected PrekeyError ${code}, got ${String(e)}`);
  return true;
};

const EMPTY = { signed_prekey_id: null, signed_prekey_at: null, kem_last_resort_id: null, one_time_left: 0, kem_one_time_left: 0 };

describe('publish and claim', () => {
  test('a claimed bundle passes verifyBundle and completes PQXDH with the device private keys', () => {
    const store = freshStore();
    const bob = new Device();
    const at = Date.UTC(2026, 11, 1);
    const status = store.publish(bob.id, bob.identityKey, bob.publish(1, 3, 1, 2), at);
    assert.deepEqual(status, {
      signed_prekey_id: 1,
      signed_prekey_at: new Date(at).toISOString(),
      kem_last_resort_id: 1000,
      one_time_left: 3,
      kem_one_time_left: 2,
    });
    const bundle = bundleOf(store.claim(bob.id, bob.identityKey));
    const verified = verifyBundle(bundle);
    assert.equal(verified.oneTimePrekey?.id, 1);
    assert.equal(verified.kemPrekey.id, 1);
    assert.equal(verified.kemPrekey.lastResort, false);
    const alice = generateIdentityKeyPair();
    const a = initiate(alice, bundle);
    const b = respond(bob.keys, JSON.parse(JSON.stringify(a.initialMessage)));
    assert.deepEqual(b.sharedKey, a.sharedKey);
    assert.deepEqual(b.ad, a.ad);
    assert.equal(b.oneTimePrekeyId, 1);
    assert.equal(b.kemLastResort, false);
    assert.deepEqual(
      { ...store.status(bob.id), signed_prekey_at: null },
      { ...status, signed_prekey_at: null, one_time_left: 2, kem_one_time_left: 1 },
    );
  });

  test('a device that published nothing has no bundle and an empty status', () => {
    const store = freshStore();
    assert.equal(store.claim('nobody', toBase64Url(new Uint8Array(32))), 'no_prekeys');
    assert.deepEqual(store.status('nobody'), EMPTY);
  });

  test('each one-time prekey is handed out at most once across 250 claims; then the bundle has none and the last-resort KEM', () => {
    const store = freshStore();
    const bob = new Device();
    const other = new Device();
    store.publish(bob.id, bob.identityKey, bob.publish(1, 100, 1, 20));
    // Another device's keys with the same ids are its own: claims for bob never take them.
    store.publish(other.id, other.identityKey, other.publish(1, 5, 1, 5));
    const bundles: PrekeyBundle[] = [];
    for (let i = 0; i < 60; i++) bundles.push(bundleOf(store.claim(bob.id, bob.identityKey)));
    // More published mid-way; the signed and last-resort prekeys are the same ones again (accepted as they are).
    store.publish(bob.id, bob.identityKey, bob.publish(101, 100));
    for (let i = 0; i < 190; i++) bundles.push(bundleOf(store.claim(bob.id, bob.identityKey)));

    const opkIds = bundles.flatMap((b) => (b.one_time_prekey ? [b.one_time_prekey.id] : []));
    assert.equal(new Set(opkIds).size, opkIds.length, 'no one-time prekey twice');
    assert.deepEqual(
      [...opkIds].sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.ok(bundles.slice(200).every((b) => b.one_time_prekey === undefined));
    const kemOneTime = bundles.filter((b) => !b.kem_prekey.last_resort).map((b) => b.kem_prekey.id);
    assert.deepEqual(
      kemOneTime,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.ok(bundles.slice(20).every((b) => b.kem_prekey.last_resort && b.kem_prekey.id === 1000));
    for (const b of bundles) {
      // Each one-time key in a bundle is the device's own key under that id.
      if (b.one_time_prekey) assert.equal(b.one_time_prekey.public, toBase64Url(bob.oneTime.get(b.one_time_prekey.id)!.keyPair.publicKey));
      verifyBundle(b);
    }
    // The last bundle (no one-time prekey, last-resort KEM) still completes PQXDH.
    const last = bundles.at(-1)!;
    const a = initiate(generateIdentityKeyPair(), last);
    assert.deepEqual(respond(bob.keys, a.initialMessage).sharedKey, a.sharedKey);
    assert.deepEqual(store.status(bob.id), { ...store.status(bob.id), one_time_left: 0, kem_one_time_left: 0 });
    assert.equal(store.status(other.id).one_time_left, 5);
  });

  test('a claim is durable: after the file is reopened the claimed ids are gone, and publishing them again does not bring them back', () => {
    const dir = freshDir();
    const bob = new Device();
    const request = bob.publish(1, 10, 1, 3);
    const first = open(dir);
    first.store.publish(bob.id, bob.identityKey, request);
    const claimed = [1, 2, 3].map(() => bundleOf(first.store.claim(bob.id, bob.identityKey)));
    assert.deepEqual(
      claimed.map((b) => b.one_time_prekey?.id),
      [1, 2, 3],
    );
    first.db.close();

    const second = open(dir);
    assert.equal(second.store.status(bob.id).one_time_left, 7);
    assert.equal(second.store.status(bob.id).kem_one_time_left, 0);
    // The device did not hear the first answer and publishes the very same keys again: accepted, not stored again.
    second.store.publish(bob.id, bob.identityKey, request);
    assert.equal(second.store.status(bob.id).one_time_left, 7);
    assert.equal(second.store.status(bob.id).kem_one_time_left, 0);
    const next = bundleOf(second.store.claim(bob.id, bob.identityKey));
    assert.equal(next.one_time_prekey?.id, 4);
    assert.equal(next.kem_prekey.last_resort, true);
  });
});

describe('refusals', () => {
  test('a forged signature or last_resort the wrong way round is invalid_prekey, and nothing is stored', () => {
    const store = freshStore();
    const bob = new Device();
    const mallory = generateIdentityKeyPair();
    const good = bob.publish(1, 2, 1, 2);
    const flip = (b64: string) => {
      const bytes = fromBase64Url(b64);
      bytes[0]! ^= 1;
      return toBase64Url(bytes);
    };
    const forged: PublishPrekeysRequest[] = [
      // Signed by another identity key.
      {
        ...good,
        signed_prekey: {
          ...good.signed_prekey,
          signature: toBase64Url(xeddsaSign(mallory.privateKey, new Uint8Array([0x05, ...fromBase64Url(good.signed_prekey.public)]))),
        },
      },
      { ...good, signed_prekey: { ...good.signed_prekey, public: flip(good.signed_prekey.public) } },
      { ...good, kem_last_resort: { ...good.kem_last_resort, signature: flip(good.kem_last_resort.signature) } },
      {
        ...good,
        kem_one_time_prekeys: [
          good.kem_one_time_prekeys[0]!,
          { ...good.kem_one_time_prekeys[1]!, public: flip(good.kem_one_time_prekeys[1]!.public) },
        ],
      },
      // The signed prekey's signature is over EncodeEC, not EncodeKEM: it does not do for a KEM prekey.
      { ...good, kem_last_resort: { ...good.kem_last_resort, signature: good.signed_prekey.signature } },
      { ...good, kem_last_resort: { ...good.kem_last_resort, last_resort: false } },
      { ...good, kem_one_time_prekeys: [{ ...good.kem_one_time_prekeys[0]!, last_resort: true }] },
    ];
    for (const request of forged) assert.throws(() => store.publish(bob.id, bob.identityKey, request), refusedWith('invalid_prekey'));
    // Good keys under another device's identity key.
    assert.throws(() => store.publish(bob.id, toBase64Url(mallory.publicKey), good), refusedWith('invalid_prekey'));
    assert.throws(() => store.publish(bob.id, 'not-a-key', good), refusedWith('invalid_prekey'));
    assert.deepEqual(store.status(bob.id), EMPTY);
    assert.equal(store.claim(bob.id, bob.identityKey), 'no_prekeys');
    assert.deepEqual(store.publish(bob.id, bob.identityKey, good).one_time_left, 2);
  });

  test('an id stored or handed out before, under another key, is prekey_id_taken and the whole publish is refused', () => {
    const store = freshStore();
    const bob = new Device();
    store.publish(bob.id, bob.identityKey, bob.publish(1, 3, 1, 2));
    const claimed = bundleOf(store.claim(bob.id, bob.identityKey));
    assert.equal(claimed.one_time_prekey?.id, 1);
    const before = store.status(bob.id);
    const reused: PublishPrekeysRequest[] = [
      bob.publish(3, 2), // 3 is stored with another key (and 4 would be new)
      bob.publish(1, 1), // 1 was handed out
      { ...bob.publish(50, 1, 2, 1) }, // one-time KEM 2 is stored with another key
      { ...bob.publish(51, 1, 1, 1) }, // one-time KEM 1 was handed out
      { ...bob.publish(52, 1, 1000, 1) }, // 1000 is the last-resort KEM prekey's id
      { ...bob.publish(53, 1), signed_prekey: signedPrekeyWire(makeSignedPrekey(bob.identity, 1)) }, // signed prekey 1, another key
      { ...bob.publish(54, 1), kem_last_resort: kemPrekeyWire(makeKemPrekey(bob.identity, 1000, { lastResort: true })) },
      { ...bob.publish(55, 1), kem_last_resort: kemPrekeyWire(makeKemPrekey(bob.identity, 2, { lastResort: true })) }, // a stored one-time KEM id
    ];
    for (const request of reused) assert.throws(() => store.publish(bob.id, bob.identityKey, request), refusedWith('prekey_id_taken'));
    assert.deepEqual(store.status(bob.id), before, 'nothing of a refused publish was stored');
    // Two keys under one id in the same publish.
    const twice = bob.publish(60, 2);
    twice.one_time_prekeys[1]!.id = 60;
    assert.throws(() => store.publish(bob.id, bob.identityKey, twice), refusedWith('prekey_id_taken'));
    assert.deepEqual(store.status(bob.id), before);
  });

  test('the same id with the same key again is accepted and changes nothing', () => {
    const store = freshStore();
    const bob = new Device();
    const request = bob.publish(1, 5, 1, 2);
    const at = Date.UTC(2026, 10, 1);
    const first = store.publish(bob.id, bob.identityKey, request, at);
    // Re-signed (XEdDSA signatures are randomised): the same keys, other valid signatures.
    const resigned = {
      ...request,
      signed_prekey: {
        ...request.signed_prekey,
        signature: toBase64Url(xeddsaSign(bob.identity.privateKey, new Uint8Array([0x05, ...bob.spk.keyPair.publicKey]))),
      },
    };
    assert.deepEqual(store.publish(bob.id, bob.identityKey, request, at + 1000), first);
    assert.deepEqual(store.publish(bob.id, bob.identityKey, resigned, at + 2000), first);
    const doubled = { ...request, one_time_prekeys: [...request.one_time_prekeys, request.one_time_prekeys[0]!] };
    assert.deepEqual(store.publish(bob.id, bob.identityKey, doubled, at + 3000), first);
  });

  test('more than MAX_ONE_TIME_STORED one-time prekeys of a kind is prekey_limit, and nothing is stored', () => {
    const store = freshStore();
    const bob = new Device();
    store.publish(bob.id, bob.identityKey, bob.publish(1, 100));
    store.publish(bob.id, bob.identityKey, bob.publish(101, MAX_ONE_TIME_STORED - 100));
    assert.equal(store.status(bob.id).one_time_left, MAX_ONE_TIME_STORED);
    assert.throws(() => store.publish(bob.id, bob.identityKey, bob.publish(1001, 1)), refusedWith('prekey_limit'));
    assert.equal(store.status(bob.id).one_time_left, MAX_ONE_TIME_STORED);
    // A claim makes room for exactly one.
    bundleOf(store.claim(bob.id, bob.identityKey));
    assert.equal(store.publish(bob.id, bob.identityKey, bob.publish(1002, 1)).one_time_left, MAX_ONE_TIME_STORED);

    // The KEM kind has the same limit (a small one here: each KEM prekey costs a key generation and a signature).
    const small = freshStore(3);
    const carol = new Device();
    small.publish(carol.id, carol.identityKey, carol.publish(1, 0, 1, 3));
    assert.throws(() => small.publish(carol.id, carol.identityKey, carol.publish(1, 1, 4, 1)), refusedWith('prekey_limit'));
    assert.deepEqual(small.status(carol.id).one_time_left, 0, 'the one-time X25519 prekey of the refused publish was not stored');
    assert.deepEqual(small.status(carol.id).kem_one_time_left, 3);
  });
});

describe('signed prekey rotation', () => {
  test('the bundle carries the newest signed prekey; the one before keeps its id', () => {
    const store = freshStore();
    const bob = new Device();
    const old = bob.publish(1, 2);
    store.publish(bob.id, bob.identityKey, old, Date.UTC(2026, 10, 1));
    bob.spk = bob.newSigned(2);
    const rotated = store.publish(bob.id, bob.identityKey, bob.publish(10, 0), Date.UTC(2026, 10, 8));
    assert.equal(rotated.signed_prekey_id, 2);
    assert.equal(rotated.signed_prekey_at, new Date(Date.UTC(2026, 10, 8)).toISOString());
    assert.equal(bundleOf(store.claim(bob.id, bob.identityKey)).signed_prekey.id, 2);
    // A late retry of the old publish is accepted but does not bring the old signed prekey back.
    assert.equal(store.publish(bob.id, bob.identityKey, old).signed_prekey_id, 2);
    assert.equal(bundleOf(store.claim(bob.id, bob.identityKey)).signed_prekey.id, 2);
    assert.throws(
      () => store.publish(bob.id, bob.identityKey, { ...old, signed_prekey: signedPrekeyWire(makeSignedPrekey(bob.identity, 1)) }),
      refusedWith('prekey_id_taken'),
    );
    // Two rotations on, id 1 is still not free for another key.
    bob.spk = bob.newSigned(3);
    store.publish(bob.id, bob.identityKey, bob.publish(20, 0));
    assert.throws(
      () =>
        store.publish(bob.id, bob.identityKey, {
          ...bob.publish(21, 0),
          signed_prekey: signedPrekeyWire(makeSignedPrekey(bob.identity, 1)),
        }),
      refusedWith('prekey_id_taken'),
    );
    // A new last-resort KEM prekey replaces the old one; the old id stays taken for other keys.
    const oldLastResort = bob.lastResort;
    bob.lastResort = bob.newKem(2000, true);
    assert.equal(store.publish(bob.id, bob.identityKey, bob.publish(30, 0)).kem_last_resort_id, 2000);
    assert.throws(() => store.publish(bob.id, bob.identityKey, bob.publish(31, 0, oldLastResort.id, 1)), refusedWith('prekey_id_taken'));
  });
});

describe('the share moving to the cloud', () => {
  test('moving keys are never claimed; confirmMoved removes them for good, revertMoving makes them claimable again', () => {
    const store = freshStore();
    const bob = new Device();
    store.publish(bob.id, bob.identityKey, bob.publish(1, 10, 1, 4));
    assert.equal(store.takeForCloud('nobody', 5), undefined);
    const forCloud = store.takeForCloud(bob.id, 3);
    assert.ok(forCloud);
    // What goes to the cloud is a whole publish the cloud can check like this node did.
    PublishPrekeysRequest.parse(forCloud);
    assert.deepEqual(
      forCloud.one_time_prekeys.map((k) => k.id),
      [1, 2, 3],
    );
    assert.deepEqual(
      forCloud.kem_one_time_prekeys.map((k) => k.id),
      [1, 2, 3],
    );
    assert.ok(forCloud.kem_one_time_prekeys.every((k) => k.last_resort === false));
    assert.equal(freshStore().publish('x', bob.identityKey, forCloud).one_time_left, 3);

    // Asked again before the cloud answered (say, after a restart): the same moving keys, and no more.
    assert.deepEqual(store.takeForCloud(bob.id, 3), forCloud);

    const claims = Array.from({ length: 8 }, () => bundleOf(store.claim(bob.id, bob.identityKey)));
    assert.deepEqual(
      claims.map((b) => b.one_time_prekey?.id),
      [4, 5, 6, 7, 8, 9, 10, undefined],
    );
    assert.deepEqual(
      claims.map((b) => b.kem_prekey.id),
      [4, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
    );

    // The cloud call failed: the moving keys come home and are claimable here again.
    assert.equal(store.revertMoving(bob.id), 6);
    assert.equal(bundleOf(store.claim(bob.id, bob.identityKey)).one_time_prekey?.id, 1);

    // The next move goes through: the cloud holds 2 and 3 (of each kind), they leave here for good.
    const again = store.takeForCloud(bob.id, 10);
    assert.ok(again);
    assert.deepEqual(
      again.one_time_prekeys.map((k) => k.id),
      [2, 3],
    );
    store.confirmMoved(bob.id, again);
    assert.equal(store.revertMoving(bob.id), 0);
    assert.deepEqual(store.status(bob.id).one_time_left, 0);
    assert.deepEqual(store.status(bob.id).kem_one_time_left, 0);
    // The device publishing those very keys again changes nothing: they are at the cloud now.
    store.publish(bob.id, bob.identityKey, { ...bob.publish(100, 0), one_time_prekeys: again.one_time_prekeys });
    assert.equal(store.status(bob.id).one_time_left, 0);
    assert.equal(bundleOf(store.claim(bob.id, bob.identityKey)).one_time_prekey, undefined);
  });
});
