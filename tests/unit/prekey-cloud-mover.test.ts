// The prekey mover (prekeys/prekey-cloud-mover.ts) against a real PrekeyStore and a fake cloud port: what the
// cloud accepted leaves the store, a definite refusal puts the keys back, an unreachable cloud leaves them moving
// and the next pass sends the very same keys again.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CloudCallError } from '../../src/main/core/cloud/cloud-api.js';
import { type OpenDatabase, openDatabase } from '../../src/main/core/db/open-database.js';
import { PrekeyRepository } from '../../src/main/core/db/prekey-repository.js';
import type { CloudPrekeysPort } from '../../src/main/core/prekeys/cloud-prekeys-port.js';
import { PrekeyCloudMover } from '../../src/main/core/prekeys/prekey-cloud-mover.js';
import { PrekeyStore } from '../../src/main/core/prekeys/prekey-store.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import {
  generateIdentityKeyPair,
  kemPrekeyWire,
  makeKemPrekey,
  makeOneTimePrekeys,
  makeSignedPrekey,
  oneTimePrekeyWire,
  signedPrekeyWire,
} from '../../src/shared/ratchet/pqxdh.js';
import type { PrekeyStatus, PublishPrekeysRequest } from '../../src/shared/wire/prekeys.js';

const dirs: string[] = [];
const dbs: OpenDatabase[] = [];
after(() => {
  for (const d of dbs) d.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const DEVICE = 'phone-mover-1';

function storeWith(oneTime: number): PrekeyStore {
  const dir = mkdtempSync(join(tmpdir(), 'salita-unit-mover-'));
  dirs.push(dir);
  const db = openDatabase(dir);
  dbs.push(db);
  const store = new PrekeyStore(new PrekeyRepository(db.db));
  const identity = generateIdentityKeyPair();
  const spk = makeSignedPrekey(identity, 1);
  const kem = makeKemPrekey(identity, 500, { lastResort: true });
  store.publish(DEVICE, toBase64Url(identity.publicKey), {
    signed_prekey: signedPrekeyWire(spk),
    kem_last_resort: kemPrekeyWire(kem),
    one_time_prekeys: makeOneTimePrekeys(1, oneTime).map(oneTimePrekeyWire),
    kem_one_time_prekeys: [],
  });
  return store;
}

/** A cloud that holds what it accepted; `next` decides how each publish ends. */
class FakeCloud implements CloudPrekeysPort {
  held = new Set<number>();
  calls: PublishPrekeysRequest[] = [];
  next: 'ok' | 'refuse' | 'unreachable' = 'ok';
  /** Outcomes of the next publishes, in order, before `next` applies again. */
  plan: ('ok' | 'refuse' | 'unreachable')[] = [];
  available = () => true;
  claim = () => Promise.resolve({ ok: false as const, error: 'unknown_recipient' as const });
  publish = async (_deviceId: string, req: PublishPrekeysRequest): Promise<PrekeyStatus> => {
    this.calls.push(req);
    const outcome = this.plan.shift() ?? this.next;
    if (outcome === 'unreachable') throw new CloudCallError('unreachable', 0, 'unreachable', 'timed out');
    if (outcome === 'refuse') throw new CloudCallError('rejected', 409, 'prekey_limit', 'too many');
    for (const k of req.one_time_prekeys) this.held.add(k.id);
    return {
      signed_prekey_id: 1,
      signed_prekey_at: new Date().toISOString(),
      kem_last_resort_id: 500,
      one_time_left: this.held.size,
      kem_one_time_left: 0,
    };
  };
}

const ids = (req: PublishPrekeysRequest | undefined) => (req?.one_time_prekeys ?? []).map((k) => k.id);

describe('moving one-time prekeys to the cloud', () => {
  test('on success the cloud holds the target and they are gone from here (never claimed here)', async () => {
    const store = storeWith(80);
    const cloud = new FakeCloud();
    const mover = new PrekeyCloudMover({ store, port: () => cloud, devices: () => [DEVICE, 'phone-without-prekeys'], target: 30 });
    await mover.kick();
    assert.equal(cloud.held.size, 30);
    assert.equal(store.status(DEVICE).one_time_left, 50);
    // What is left here are the others: claims never hand out a moved key.
    for (let i = 0; i < 50; i++) {
      const b = store.claim(DEVICE, 'x');
      assert.ok(b !== 'no_prekeys' && b.one_time_prekey && !cloud.held.has(b.one_time_prekey.id));
    }
    // The cloud is at its target: another pass only asks, and moves nothing.
    const before = cloud.calls.length;
    await mover.kick();
    assert.equal(cloud.held.size, 30);
    assert.ok(cloud.calls.slice(before).every((c) => c.one_time_prekeys.length === 0));
  });

  test('a definite 4xx puts them back here', async () => {
    const store = storeWith(40);
    const cloud = new FakeCloud();
    const mover = new PrekeyCloudMover({ store, port: () => cloud, devices: () => [DEVICE], target: 30 });
    cloud.next = 'ok';
    await mover.kick(); // learns the count (0), then moves 30
    assert.equal(store.status(DEVICE).one_time_left, 10);
    const fresh = storeWith(40);
    const refusing = new FakeCloud();
    // The count is asked (ok), then the publish carrying 30 keys is refused.
    refusing.plan = ['ok', 'refuse'];
    await new PrekeyCloudMover({ store: fresh, port: () => refusing, devices: () => [DEVICE], target: 30 }).kick();
    assert.equal(refusing.calls.at(-1)?.one_time_prekeys.length, 30);
    assert.equal(refusing.held.size, 0);
    // All 40 claimable here again, moving none.
    assert.equal(fresh.status(DEVICE).one_time_left, 40);
    assert.deepEqual(ids(fresh.takeForCloud(DEVICE, 0)), [], 'nothing left moving');
  });

  test('after an unreachable cloud the same keys stay moving and are sent again next time', async () => {
    // The count at the cloud is asked first (succeeds), then the publish carrying keys is lost.
    const s2 = storeWith(20);
    const c2 = new FakeCloud();
    const m2 = new PrekeyCloudMover({ store: s2, port: () => c2, devices: () => [DEVICE], target: 30 });
    c2.plan = ['ok', 'unreachable'];
    await m2.kick();
    const sentFirst = ids(c2.calls.at(-1));
    assert.equal(sentFirst.length, 20);
    assert.equal(c2.held.size, 0);
    const c = s2.claim(DEVICE, 'x');
    assert.ok(c !== 'no_prekeys' && c.one_time_prekey === undefined, 'moving keys are never handed out here');
    c2.next = 'ok';
    await m2.kick();
    assert.deepEqual(ids(c2.calls.at(-1)), sentFirst, 'the same keys sent again');
    assert.equal(c2.held.size, 20);
  });
});
