// The device's session store (src/shared/device-keys/): a commit is all or nothing (a failing message write
// after the session write leaves both unchanged), state survives closing and reopening the database, and a
// device that crashed between decrypt and store opens the envelope again and carries on the conversation.
// IndexedDB is fake-indexeddb's (a fresh factory per test); the in-memory store is held to the same contract.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IDBFactory } from 'fake-indexeddb';
import { DeviceSessions } from '../../src/shared/device-keys/device-sessions.js';
import { IndexedDbSessionStore, sessionDbName } from '../../src/shared/device-keys/indexeddb-session-store.js';
import { createOwnPrekeys, DEFAULT_PREKEY_POLICY, type PrekeyPolicy } from '../../src/shared/device-keys/own-prekeys.js';
import { sessionRecordFromJson, sessionRecordToJson } from '../../src/shared/device-keys/session-record-json.js';
import { type InboxMessage, MemorySessionStore, type SessionStore, type StoreChange } from '../../src/shared/device-keys/session-store.js';
import { toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { newPerson } from '../../src/shared/people/person.js';
import {
  generateIdentityKeyPair,
  makeKemPrekey,
  makeOneTimePrekeys,
  makeSignedPrekey,
  publicBundle,
} from '../../src/shared/ratchet/pqxdh.js';
import { sealOnSession, startSession, withCurrent } from '../../src/shared/ratchet/session.js';
import { MemoryPrekeyDirectory } from './fixtures/memory-prekey-directory.js';

const POLICY: Partial<PrekeyPolicy> = { oneTimeCount: 3, lowWater: 2 };

/** A session record and a later state of it (one message sealed), as JSON. */
function twoRecordStates() {
  const me = generateIdentityKeyPair();
  const peer = generateIdentityKeyPair();
  const bundle = publicBundle(peer, makeSignedPrekey(peer, 1), makeKemPrekey(peer, 2, { lastResort: true }), makeOneTimePrekeys(3, 1)[0]);
  const s0 = startSession(me, 'peer', bundle);
  const s1 = sealOnSession(s0, new Uint8Array(64), utf8.encode('ad')).session;
  return { me, v0: sessionRecordToJson(withCurrent(undefined, s0)), v1: sessionRecordToJson(withCurrent(undefined, s1)) };
}

function message(id: string, text: string): InboxMessage {
  return { id, from_device: 'peer', sent_at: '2026-01-01T00:00:00.000Z', plaintext: utf8.encode(text), received_at: 1 };
}

const kinds: { name: string; make: () => Promise<{ store: SessionStore; reopen?: () => Promise<SessionStore> }> }[] = [
  { name: 'memory', make: async () => ({ store: new MemorySessionStore() }) },
  {
    name: 'IndexedDB',
    make: async () => {
      const factory = new IDBFactory();
      return { store: await IndexedDbSessionStore.open('dev-1', factory), reopen: () => IndexedDbSessionStore.open('dev-1', factory) };
    },
  },
];

for (const kind of kinds) {
  test(`${kind.name}: a commit that fails after the session write changes neither the session nor the messages`, async () => {
    const { store } = await kind.make();
    const { me, v0, v1 } = twoRecordStates();
    const prekeys = createOwnPrekeys(me, 0, { ...DEFAULT_PREKEY_POLICY, oneTimeCount: 1 });
    await store.commit({ prekeys, records: [{ peerDevice: 'peer', record: v0 }], inbox: [message('m1', 'first')] });

    // The same message id again: the add fails, after the new record and prekeys were written in that tx.
    const changedPrekeys = { ...prekeys, one_time: [] };
    await assert.rejects(
      store.commit({ prekeys: changedPrekeys, records: [{ peerDevice: 'peer', record: v1 }], inbox: [message('m1', 'again')] }),
    );
    assert.deepEqual(await store.loadRecord('peer'), v0);
    assert.deepEqual(await store.loadPrekeys(), prekeys);
    assert.equal(utf8.decode((await store.inboxMessage('m1'))!.plaintext), 'first');

    // A message value that cannot be stored at all (put throws synchronously): the tx is aborted.
    const unstorable = { ...message('m2', 'x'), plaintext: (() => 0) as unknown as Uint8Array };
    await assert.rejects(store.commit({ records: [{ peerDevice: 'peer', record: v1 }], inbox: [unstorable] }));
    assert.deepEqual(await store.loadRecord('peer'), v0);
    assert.equal(await store.inboxMessage('m2'), undefined);

    // And a good commit goes through, whole.
    await store.commit({ records: [{ peerDevice: 'peer', record: v1 }], inbox: [message('m2', 'second')] });
    assert.deepEqual(await store.loadRecord('peer'), v1);
    assert.deepEqual(sessionRecordFromJson(await store.loadRecord('peer')).current.ratchet.ns, 1);
    assert.equal(utf8.decode((await store.inboxMessage('m2'))!.plaintext), 'second');
    store.close();
  });
}

test('IndexedDB: a database of the version before (no people store) opens with its data and gains the store', async () => {
  const factory = new IDBFactory();
  const old = factory.open(sessionDbName('dev-old'), 3);
  old.onupgradeneeded = () => {
    const db = old.result;
    db.createObjectStore('prekeys');
    db.createObjectStore('sessions', { keyPath: 'peer_device' });
    db.createObjectStore('inbox_messages', { keyPath: 'id' }).put(message('m1', 'kept'));
    db.createObjectStore('outbox', { keyPath: 'id' });
    db.createObjectStore('meta').put(7, 'revision');
    db.createObjectStore('groups', { keyPath: 'group_id' });
  };
  await new Promise((resolve, reject) => {
    old.onsuccess = resolve;
    old.onerror = reject;
  });
  old.result.close();
  const store = await IndexedDbSessionStore.open('dev-old', factory);
  assert.equal(utf8.decode((await store.inboxMessage('m1'))!.plaintext), 'kept');
  assert.equal(await store.revision(), 7);
  assert.deepEqual(await store.allPeople(), []);
  store.close();
});

test('IndexedDB: closing and reopening the database restores prekeys, sessions, inbox, outbox and people', async () => {
  const factory = new IDBFactory();
  const store = await IndexedDbSessionStore.open('dev-2', factory);
  const { me, v1 } = twoRecordStates();
  const prekeys = createOwnPrekeys(me, 0, { ...DEFAULT_PREKEY_POLICY, oneTimeCount: 2 });
  const envelope = { v: 2, id: 'e1' } as unknown as import('../../src/shared/e2ee/schema.js').EnvelopeV2;
  const made = newPerson({ device_id: 'dev-2', identity_key: toBase64Url(me.publicKey) }, 'Ana');
  const person = { person_id: made.roster.person_id, roster: made.roster, secret: made.secret };
  await store.commit({
    prekeys,
    records: [{ peerDevice: 'peer', record: v1 }],
    inbox: [message('m1', 'hello')],
    outbox: [{ id: 'e1', envelope, created_at: 5 }],
    people: [{ record: person }],
  });
  store.close();

  const again = await IndexedDbSessionStore.open('dev-2', factory);
  assert.deepEqual(await again.loadPrekeys(), prekeys);
  assert.deepEqual(await again.loadRecord('peer'), v1);
  const m = (await again.inboxMessage('m1'))!;
  assert.ok(m.plaintext instanceof Uint8Array);
  assert.equal(utf8.decode(m.plaintext), 'hello');
  assert.deepEqual(
    (await again.outbox()).map((e) => e.id),
    ['e1'],
  );
  assert.deepEqual(await again.allPeople(), [person]);
  await again.commit({ outboxDone: ['e1'], people: [{ record: person, removed: true }] });
  assert.deepEqual(await again.outbox(), []);
  assert.deepEqual(await again.allPeople(), []);
  // Another device id is another database.
  const other = await IndexedDbSessionStore.open('dev-3', factory);
  assert.equal(await other.loadRecord('peer'), undefined);
  assert.equal(sessionDbName('dev-2'), 'salita-device-dev-2');
  again.close();
  other.close();
});

/** A store whose next commit fails (a crash between decrypt and store, as far as the data is concerned). */
function failingNextCommit(inner: SessionStore): SessionStore & { failNext: boolean } {
  const s = {
    failNext: false,
    loadPrekeys: () => inner.loadPrekeys(),
    loadRecord: (p: string) => inner.loadRecord(p),
    inboxMessage: (id: string) => inner.inboxMessage(id),
    outbox: () => inner.outbox(),
    revision: () => inner.revision(),
    loadGroup: (id: string) => inner.loadGroup(id),
    allGroups: () => inner.allGroups(),
    allPeople: () => inner.allPeople(),
    commit: async (c: StoreChange) => {
      if (s.failNext) {
        s.failNext = false;
        throw new Error('crash');
      }
      return inner.commit(c);
    },
    close: () => inner.close(),
  };
  return s;
}

test('a crash between decrypt and store: the reopened device opens the envelope again and the conversation goes on', async () => {
  const factory = new IDBFactory();
  const dir = new MemoryPrekeyDirectory();
  const aliceId = generateIdentityKeyPair();
  const bobId = generateIdentityKeyPair();
  const alice = new DeviceSessions({ deviceId: 'alice-1', identity: aliceId, store: new MemorySessionStore(), policy: POLICY });
  const bobStore = failingNextCommit(await IndexedDbSessionStore.open('bob-1', factory));
  let bob = new DeviceSessions({ deviceId: 'bob-1', identity: bobId, store: bobStore, policy: POLICY });
  await alice.ensurePrekeysPublished(dir.api('alice-1', toBase64Url(aliceId.publicKey)));
  await bob.ensurePrekeysPublished(dir.api('bob-1', toBase64Url(bobId.publicKey)));
  const bobDev = { device_id: 'bob-1', identity_key: toBase64Url(bobId.publicKey) };
  const aliceDev = { device_id: 'alice-1', identity_key: toBase64Url(aliceId.publicKey) };

  const first = (await alice.seal([bobDev], utf8.encode('one'), dir.claim)).envelope;
  const second = (await alice.seal([bobDev], utf8.encode('two'), dir.claim)).envelope;
  assert.equal(utf8.decode((await bob.open(first, aliceId.publicKey)).plaintext), 'one');

  bobStore.failNext = true;
  await assert.rejects(bob.open(second, aliceId.publicKey), /crash/);
  // The "process" dies: a new DeviceSessions on a newly opened database.
  bobStore.close();
  const reopened = await IndexedDbSessionStore.open('bob-1', factory);
  bob = new DeviceSessions({ deviceId: 'bob-1', identity: bobId, store: reopened, policy: POLICY });
  assert.equal(await reopened.inboxMessage(second.id), undefined, 'nothing of the failed step was stored');
  const got = await bob.open(second, aliceId.publicKey);
  assert.equal(utf8.decode(got.plaintext), 'two');
  assert.equal(got.duplicate, false);

  // Re-delivered after it was stored: served from the store, the session untouched.
  const before = await reopened.loadRecord('alice-1');
  const dup = await bob.open(second, aliceId.publicKey);
  assert.equal(dup.duplicate, true);
  assert.equal(utf8.decode(dup.plaintext), 'two');
  assert.deepEqual(await reopened.loadRecord('alice-1'), before);

  // The conversation continues both ways on the restored state.
  const reply = (await bob.seal([aliceDev], utf8.encode('three'), dir.claim)).envelope;
  assert.equal(utf8.decode((await alice.open(reply, bobId.publicKey)).plaintext), 'three');
  const fourth = (await alice.seal([bobDev], utf8.encode('four'), dir.claim)).envelope;
  assert.equal(utf8.decode((await bob.open(fourth, aliceId.publicKey)).plaintext), 'four');
  assert.equal((await reopened.outbox()).length, 1, "bob's reply waits in the outbox until acknowledged");
  await bob.acknowledge([reply.id]);
  assert.equal((await reopened.outbox()).length, 0);
  reopened.close();
});

for (const kind of kinds) {
  test(`${kind.name}: a commit on a stale revision is refused with state_changed and writes nothing`, async () => {
    const { store } = await kind.make();
    const { v0, v1 } = twoRecordStates();
    const r0 = await store.revision();
    await store.commit({ records: [{ peerDevice: 'peer', record: v0 }], ifRevision: r0 });
    const r1 = await store.revision();
    assert.equal(r1, r0 + 1);
    // A step that read at r0 (another tab committed since) must not overwrite what that tab wrote.
    await assert.rejects(store.commit({ records: [{ peerDevice: 'peer', record: v1 }], inbox: [message('m9', 'x')], ifRevision: r0 }), {
      code: 'state_changed',
    });
    assert.deepEqual(await store.loadRecord('peer'), v0);
    assert.equal(await store.inboxMessage('m9'), undefined);
    assert.equal(await store.revision(), r1);
  });
}

test('two tabs of one device on one IndexedDB, sealing and opening at once: no session forks, every message opens once', async () => {
  const factory = new IDBFactory();
  const dir = new MemoryPrekeyDirectory();
  const aliceId = generateIdentityKeyPair();
  const bobId = generateIdentityKeyPair();
  const bob = new DeviceSessions({ deviceId: 'bob-1', identity: bobId, store: new MemorySessionStore(), policy: POLICY });
  const tabs = [
    new DeviceSessions({
      deviceId: 'alice-1',
      identity: aliceId,
      store: await IndexedDbSessionStore.open('alice-1', factory),
      policy: POLICY,
    }),
    new DeviceSessions({
      deviceId: 'alice-1',
      identity: aliceId,
      store: await IndexedDbSessionStore.open('alice-1', factory),
      policy: POLICY,
    }),
  ];
  await tabs[0]!.ensurePrekeysPublished(dir.api('alice-1', toBase64Url(aliceId.publicKey)));
  await bob.ensurePrekeysPublished(dir.api('bob-1', toBase64Url(bobId.publicKey)));
  const bobDev = { device_id: 'bob-1', identity_key: toBase64Url(bobId.publicKey) };
  const aliceDev = { device_id: 'alice-1', identity_key: toBase64Url(aliceId.publicKey) };

  // Both tabs seal at the same moment, several times: each must advance the one chain, never reuse a key.
  const sealed = await Promise.all(
    Array.from({ length: 6 }, (_, i) => tabs[i % 2]!.seal([bobDev], utf8.encode(`m${i}`), dir.claim).then((r) => r.envelope)),
  );
  const texts = [];
  for (const env of sealed) texts.push(utf8.decode((await bob.open(env, aliceId.publicKey)).plaintext));
  assert.deepEqual(texts.sort(), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);

  // Bob answers; both tabs open the same envelope at once: one stores it, the other serves it as a duplicate.
  const reply = (await bob.seal([aliceDev], utf8.encode('all six'), dir.claim)).envelope;
  const both = await Promise.all(tabs.map((t) => t.open(reply, bobId.publicKey)));
  assert.deepEqual(
    both.map((o) => utf8.decode(o.plaintext)),
    ['all six', 'all six'],
  );
  assert.deepEqual(both.map((o) => o.duplicate).sort(), [false, true]);
  // And the conversation goes on from either tab.
  const next = (await tabs[1]!.seal([bobDev], utf8.encode('after'), dir.claim)).envelope;
  assert.equal(utf8.decode((await bob.open(next, aliceId.publicKey)).plaintext), 'after');
});
