// DeviceSessions (src/shared/device-keys/device-sessions.ts): alice with two devices and bob with one, over an
// in-memory prekey directory. Fan-out to bob and alice's other device, replies, out-of-order delivery, a refused
// tampered envelope that changes nothing, prekey publishing (first, replenish, weekly rotation), and a reinstalled
// bob (new identity key): "safety number changed" on both the sealing and the opening side.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IDBFactory } from 'fake-indexeddb';
import { DeviceSessions, type PeerDevice } from '../../src/shared/device-keys/device-sessions.js';
import { DeviceKeysError } from '../../src/shared/device-keys/errors.js';
import { IndexedDbSessionStore } from '../../src/shared/device-keys/indexeddb-session-store.js';
import type { PrekeyPolicy } from '../../src/shared/device-keys/own-prekeys.js';
import { MemorySessionStore, type SessionStore } from '../../src/shared/device-keys/session-store.js';
import type { EnvelopeV2 } from '../../src/shared/e2ee/schema.js';
import { toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { generateIdentityKeyPair } from '../../src/shared/ratchet/pqxdh.js';
import { MemoryPrekeyDirectory } from './fixtures/memory-prekey-directory.js';

const DAY = 24 * 60 * 60 * 1000;
const POLICY: Partial<PrekeyPolicy> = { oneTimeCount: 4, lowWater: 2 };

interface Dev {
  id: string;
  ds: DeviceSessions;
  store: SessionStore;
  me: PeerDevice;
}

async function device(
  dir: MemoryPrekeyDirectory,
  id: string,
  store: SessionStore = new MemorySessionStore(),
  now?: () => number,
): Promise<Dev> {
  const identity = generateIdentityKeyPair();
  const ds = new DeviceSessions({ deviceId: id, identity, store, policy: POLICY, ...(now ? { now } : {}) });
  const me = { device_id: id, identity_key: toBase64Url(identity.publicKey) };
  await ds.ensurePrekeysPublished(dir.api(id, me.identity_key, now));
  KEYS.set(id, identity.publicKey);
  return { id, ds, store, me };
}

const text = (b: Uint8Array) => utf8.decode(b);
/** The identity key the directory names for each device id, as the last device() made under it. */
const KEYS = new Map<string, Uint8Array>();
const openOn = (d: Dev, env: EnvelopeV2) => d.ds.open(env, KEYS.get(env.from_device)!);

async function world() {
  const dir = new MemoryPrekeyDirectory();
  const a1 = await device(dir, 'alice-1', await IndexedDbSessionStore.open('alice-1', new IDBFactory()));
  const a2 = await device(dir, 'alice-2');
  const b1 = await device(dir, 'bob-1');
  return { dir, a1, a2, b1 };
}

test("fan-out: one envelope for bob and alice's other device, both open it; replies reach both of alice's devices", async () => {
  const { dir, a1, a2, b1 } = await world();
  const sent = await a1.ds.seal([b1.me, a1.me, a2.me], utf8.encode('hi bob'), dir.claim);
  assert.deepEqual(sent.envelope.to, ['alice-2', 'bob-1'], 'our own device is not a recipient');
  assert.deepEqual(sent.identityChanged, []);
  for (const d of [b1, a2]) {
    const got = await openOn(d, sent.envelope);
    assert.equal(text(got.plaintext), 'hi bob');
    assert.equal(got.from_device, 'alice-1');
    assert.equal(got.started?.identityChanged, false);
  }
  // The one-time prekey bob's session was started with is gone from his state.
  const pre = sent.envelope.wraps[1]!.pre!;
  assert.ok(pre.one_time_prekey_id !== undefined);
  const bobKeys = (await b1.store.loadPrekeys())!;
  assert.ok(!bobKeys.one_time.some((k) => k.id === pre.one_time_prekey_id));

  const reply = await b1.ds.seal([a1.me, a2.me, b1.me], utf8.encode('hi alice'), dir.claim);
  for (const d of [a1, a2]) assert.equal(text((await openOn(d, reply.envelope)).plaintext), 'hi alice');
  // alice-1 heard back from bob: its next message carries no initial message; bob opens it on the same session.
  const next = await a1.ds.seal([b1.me], utf8.encode('again'), dir.claim);
  assert.equal(next.envelope.wraps[0]!.pre, undefined);
  const got = await openOn(b1, next.envelope);
  assert.equal(text(got.plaintext), 'again');
  assert.equal(got.started, undefined);
  // The sealed envelopes wait in alice-1's outbox until acknowledged.
  assert.deepEqual((await a1.ds.pendingOutbox()).map((e) => e.id).sort(), [sent.envelope.id, next.envelope.id].sort());
  await a1.ds.acknowledge([sent.envelope.id, next.envelope.id]);
  assert.deepEqual(await a1.ds.pendingOutbox(), []);
});

test('out of order: later messages first, then the earlier ones, each exactly once', async () => {
  const { dir, a1, b1 } = await world();
  const envs: EnvelopeV2[] = [];
  for (const t of ['m1', 'm2', 'm3', 'm4']) envs.push((await a1.ds.seal([b1.me], utf8.encode(t), dir.claim)).envelope);
  const order = [2, 0, 3, 1];
  const got = [];
  for (const i of order) got.push(text((await openOn(b1, envs[i]!)).plaintext));
  assert.deepEqual(got, ['m3', 'm1', 'm4', 'm2']);
  const again = await openOn(b1, envs[2]!);
  assert.equal(again.duplicate, true);
  assert.equal(text(again.plaintext), 'm3');
  // Bob answers after the shuffle; alice reads it.
  const r = await b1.ds.seal([a1.me], utf8.encode('got all four'), dir.claim);
  assert.equal(text((await openOn(a1, r.envelope)).plaintext), 'got all four');
});

test('a tampered envelope is refused and changes nothing; the real one opens after it', async () => {
  const { dir, a1, b1 } = await world();
  const env = (await a1.ds.seal([b1.me], utf8.encode('secret'), dir.claim)).envelope;
  const body = env.ciphertext;
  const flipped = (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
  await assert.rejects(openOn(b1, { ...env, ciphertext: flipped }), { code: 'decrypt_failed' });
  assert.equal(await b1.store.loadRecord('alice-1'), undefined, 'no session was stored');
  assert.equal(await b1.store.inboxMessage(env.id), undefined);
  assert.equal(text((await openOn(b1, env)).plaintext), 'secret');
});

test('a claimed bundle under another identity key than the directory names is refused', async () => {
  const { dir, a1, b1 } = await world();
  const forged = { ...b1.me, identity_key: toBase64Url(generateIdentityKeyPair().publicKey) };
  await assert.rejects(
    a1.ds.seal([forged], utf8.encode('x'), dir.claim),
    (e: unknown) => e instanceof DeviceKeysError && e.code === 'identity_mismatch',
  );
  assert.deepEqual(await a1.ds.pendingOutbox(), []);
});

test('last resort only: with no one-time keys left the session still starts, and the envelope is opened once', async () => {
  const { dir, a1, b1 } = await world();
  dir.drain('bob-1');
  const env = (await a1.ds.seal([b1.me], utf8.encode('lr'), dir.claim)).envelope;
  assert.equal(env.wraps[0]!.pre!.one_time_prekey_id, undefined);
  const got = await openOn(b1, env);
  assert.equal(text(got.plaintext), 'lr');
  const keys = (await b1.store.loadPrekeys())!;
  assert.deepEqual(
    keys.replay.map((r) => r.id),
    [got.started!.initialMessageId],
  );
  assert.equal((await openOn(b1, env)).duplicate, true);
});

test('ensurePrekeysPublished: first publish, nothing when all is there, replenish below the mark, weekly rotation', async () => {
  const dir = new MemoryPrekeyDirectory();
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  const b = await device(dir, 'bob-1', new MemorySessionStore(), clock);
  const api = dir.api('bob-1', b.me.identity_key, clock);
  let st = await api.status();
  assert.equal(st.one_time_left, 4);
  assert.equal(st.kem_one_time_left, 4);
  const firstSpk = st.signed_prekey_id;
  assert.notEqual(firstSpk, null);
  const publishes = dir.publishes;
  await b.ds.ensurePrekeysPublished(api);
  assert.equal(dir.publishes, publishes, 'nothing new to publish');

  for (let i = 0; i < 3; i++) await dir.claim('bob-1');
  st = await b.ds.ensurePrekeysPublished(api);
  assert.equal(st.one_time_left, 4, 'topped up from 1');
  assert.equal(st.kem_one_time_left, 4);
  assert.equal(st.signed_prekey_id, firstSpk);

  now += 7 * DAY;
  st = await b.ds.ensurePrekeysPublished(api);
  assert.notEqual(st.signed_prekey_id, firstSpk, 'rotated after a week');
  const keys = (await b.store.loadPrekeys())!;
  assert.ok(
    keys.signed.some((k) => k.id === firstSpk),
    'the old one is kept for its grace period',
  );
  // A publish that fails keeps the new keys unpublished and retries them next time.
  for (let i = 0; i < 3; i++) await dir.claim('bob-1');
  const failing = { status: api.status, publish: async () => Promise.reject(new Error('offline')) };
  await assert.rejects(b.ds.ensurePrekeysPublished(failing), /offline/);
  st = await b.ds.ensurePrekeysPublished(api);
  assert.equal(st.one_time_left, 4);
});

test('a reinstalled bob (new identity key): identityChanged on the side that opens and on the side that seals', async () => {
  const { dir, a1, a2, b1 } = await world();
  const hello = await a1.ds.seal([b1.me, a2.me], utf8.encode('before'), dir.claim);
  await openOn(b1, hello.envelope);
  await openOn(a2, hello.envelope);
  const r = await b1.ds.seal([a1.me, a2.me], utf8.encode('ok'), dir.claim);
  await openOn(a1, r.envelope);
  await openOn(a2, r.envelope);
  const oldKey = await a1.ds.peerIdentityKey('bob-1');

  // Bob reinstalls: same device id, new identity, new store, new prekeys in the directory.
  const bob2 = await device(dir, 'bob-1');
  const fromNewBob = await bob2.ds.seal([a1.me], utf8.encode('new phone'), dir.claim);
  const got = await openOn(a1, fromNewBob.envelope);
  assert.equal(text(got.plaintext), 'new phone');
  assert.equal(got.started?.identityChanged, true);
  assert.notDeepEqual(await a1.ds.peerIdentityKey('bob-1'), oldKey);

  // alice-2 still holds the old session; sealing to the directory's new key starts again and says so.
  const sent = await a2.ds.seal([bob2.me], utf8.encode('welcome back'), dir.claim);
  assert.deepEqual(sent.identityChanged, ['bob-1']);
  assert.equal(text((await openOn(bob2, sent.envelope)).plaintext), 'welcome back');
  // The old bob's identity cannot open what is sealed to the new one.
  const toNew = await a1.ds.seal([bob2.me], utf8.encode('only new'), dir.claim);
  assert.deepEqual(toNew.identityChanged, []);
  await assert.rejects(openOn(b1, toNew.envelope));
  assert.equal(text((await openOn(bob2, toNew.envelope)).plaintext), 'only new');
});

test("a session started in another device's name, under a key the directory does not name for it, is refused", async () => {
  const { dir, a1, b1 } = await world();
  // Mallory holds an identity key of her own and claims bob's bundle; her envelope says it is from alice-1.
  const mallory = new DeviceSessions({
    deviceId: 'alice-1',
    identity: generateIdentityKeyPair(),
    store: new MemorySessionStore(),
    policy: POLICY,
  });
  const forged = (await mallory.seal([b1.me], utf8.encode('send me your PIN'), dir.claim)).envelope;
  await assert.rejects(openOn(b1, forged), (e: unknown) => e instanceof DeviceKeysError && e.code === 'identity_mismatch');
  assert.equal(await b1.store.loadRecord('alice-1'), undefined, 'no session in alice-1 name was stored');
  assert.equal(await b1.store.inboxMessage(forged.id), undefined);
  // The real alice-1 still starts her session with bob.
  const real = (await a1.ds.seal([b1.me], utf8.encode('hi'), dir.claim)).envelope;
  assert.equal(text((await openOn(b1, real)).plaintext), 'hi');
});
