// Groups through DeviceSessions (src/shared/device-keys/device-sessions.ts): a device makes a group; the change and
// the sender keys go as envelopes v2 on the pairwise sessions, each member answers with its own key; a group
// message goes as envelopes v3 (one per 32 devices) that every other member opens once; a removed member opens
// nothing new; the group survives a reopened IndexedDB.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IDBFactory } from 'fake-indexeddb';
import { DeviceSessions, type PeerDevice } from '../../src/shared/device-keys/device-sessions.js';
import { IndexedDbSessionStore } from '../../src/shared/device-keys/indexeddb-session-store.js';
import { MemorySessionStore, type SessionStore } from '../../src/shared/device-keys/session-store.js';
import type { Envelope } from '../../src/shared/e2ee/schema.js';
import { toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { GroupError } from '../../src/shared/groups/errors.js';
import type { GroupPayload } from '../../src/shared/groups/group.js';
import { generateIdentityKeyPair } from '../../src/shared/ratchet/pqxdh.js';
import { MemoryPrekeyDirectory } from './fixtures/memory-prekey-directory.js';

interface Dev {
  id: string;
  key: Uint8Array;
  me: PeerDevice;
  ds: DeviceSessions;
  store: SessionStore;
  /** Group messages this device opened, as text. */
  got: string[];
}

class Net {
  readonly dir = new MemoryPrekeyDirectory();
  readonly devs = new Map<string, Dev>();

  async add(id: string, store: SessionStore = new MemorySessionStore(), identity = generateIdentityKeyPair()): Promise<Dev> {
    const ds = new DeviceSessions({ deviceId: id, identity, store, policy: { oneTimeCount: 4, lowWater: 1 } });
    const me = { device_id: id, identity_key: toBase64Url(identity.publicKey) };
    await ds.ensurePrekeysPublished(this.dir.api(id, me.identity_key));
    const d: Dev = { id, key: identity.publicKey, me, ds, store, got: [] };
    this.devs.set(id, d);
    return d;
  }

  /** Delivers envelopes to each recipient, as a node would, and lets each react (answers delivered in turn, unless `answers` is false). */
  async deliver(from: Dev, envelopes: readonly Envelope[], answers = true): Promise<void> {
    for (const env of envelopes) {
      for (const to of env.to) {
        const d = this.devs.get(to);
        if (!d) continue;
        let opened: Awaited<ReturnType<DeviceSessions['open']>>;
        try {
          opened = await d.ds.open(env, from.key);
        } catch (err) {
          if (err instanceof GroupError) continue; // not (or no longer) a member: shown as unreadable by a client
          throw err;
        }
        if (opened.group_id) {
          if (!opened.duplicate) d.got.push(utf8.decode(opened.plaintext));
          continue;
        }
        // A group payload is applied again when seen again, as MessagingClient does (a crash may have come
        // between its open and its apply): applying must be idempotent.
        const payload = JSON.parse(utf8.decode(opened.plaintext)) as GroupPayload;
        if (payload.t !== 'group') continue;
        const step = await d.ds.applyGroupPayload(from.id, from.key, payload, this.dir.claim);
        if (answers) await this.deliver(d, step.envelopes);
      }
    }
  }
}

test('make a group, keys over the pairwise sessions, a group message opened once by every other member', async () => {
  const net = new Net();
  const [alice, bob, carol] = [await net.add('alice-1'), await net.add('bob-1'), await net.add('carol-1')];
  const made = await alice.ds.createGroup('Middag', [bob.me, carol.me], net.dir.claim);
  assert.equal(made.envelopes.length, 1);
  assert.equal(made.envelopes[0]!.v, 2, 'the change travels on the pairwise sessions');
  await net.deliver(alice, made.envelopes);
  for (const d of [alice, bob, carol])
    assert.deepEqual(
      (await d.ds.groups()).map((g) => [g.name, g.epoch, g.members.length]),
      [['Middag', 1, 3]],
    );

  const sent = await alice.ds.sendGroup(made.group_id, utf8.encode('Middag kl. sju?'));
  assert.deepEqual(
    sent.map((e) => [e.v, e.to]),
    [[3, ['bob-1', 'carol-1']]],
  );
  await net.deliver(alice, sent);
  await net.deliver(alice, sent); // re-delivered: served from the inbox, not shown twice
  const fromBob = await bob.ds.sendGroup(made.group_id, utf8.encode('Ja'));
  await net.deliver(bob, fromBob);
  assert.deepEqual(bob.got, ['Middag kl. sju?']);
  assert.deepEqual(carol.got, ['Middag kl. sju?', 'Ja']);
  assert.deepEqual(alice.got, ['Ja']);
  assert.deepEqual((await alice.ds.pendingOutbox()).length, made.envelopes.length + sent.length, 'all in the outbox until acknowledged');
});

test('removing a member: the others rotate; the removed one opens nothing new and is told', async () => {
  const net = new Net();
  const [alice, bob, carol] = [await net.add('alice-1'), await net.add('bob-1'), await net.add('carol-1')];
  const made = await alice.ds.createGroup('Middag', [bob.me, carol.me], net.dir.claim);
  await net.deliver(alice, made.envelopes);
  const change = await alice.ds.changeGroup(made.group_id, { members: [bob.me] }, net.dir.claim);
  assert.deepEqual(
    change.envelopes.map((e) => e.to),
    [['bob-1'], ['carol-1']],
    'the new key to bob; to carol only the change',
  );
  await net.deliver(alice, change.envelopes);
  assert.deepEqual(await carol.ds.groups(), [], 'carol forgot the group');
  // The envelope that made the group, delivered to carol again: it does not add her back.
  await net.deliver(alice, made.envelopes);
  assert.deepEqual(await carol.ds.groups(), [], 'an old change seen again does not undo the removal');
  assert.equal((await bob.ds.groups())[0]?.epoch, 2);
  const after = await alice.ds.sendGroup(made.group_id, utf8.encode('carol is out'));
  assert.deepEqual(after[0]!.to, ['bob-1']);
  // Even handed to carol, it opens nothing there.
  await net.deliver(alice, [{ ...after[0]!, to: ['bob-1', 'carol-1'] }]);
  assert.deepEqual(bob.got, ['carol is out']);
  assert.deepEqual(carol.got, []);
});

test('a group of 40 devices: a message goes as two envelopes v3, each opened by its recipients', async () => {
  const net = new Net();
  const alice = await net.add('alice-1');
  const others: Dev[] = [];
  for (let i = 0; i < 39; i++) others.push(await net.add(`dev-${String(i).padStart(2, '0')}`));
  const made = await alice.ds.createGroup(
    'Big',
    others.map((d) => d.me),
    net.dir.claim,
  );
  await net.deliver(alice, made.envelopes);
  const sent = await alice.ds.sendGroup(made.group_id, utf8.encode('to all'));
  assert.deepEqual(
    sent.map((e) => e.to.length),
    [32, 7],
  );
  assert.equal(new Set(sent.map((e) => e.ciphertext)).size, 1, 'the same message bytes in each');
  await net.deliver(alice, sent);
  assert.ok(others.every((d) => d.got.length === 1 && d.got[0] === 'to all'));
});

test('the group survives closing and reopening the database', async () => {
  const factory = new IDBFactory();
  const net = new Net();
  const identity = generateIdentityKeyPair();
  const bobStore = await IndexedDbSessionStore.open('bob-1', factory);
  const [alice, bob] = [await net.add('alice-1'), await net.add('bob-1', bobStore, identity)];
  const made = await alice.ds.createGroup('Two', [bob.me], net.dir.claim);
  await net.deliver(alice, made.envelopes);
  bobStore.close();
  // Bob's page reloads: a new DeviceSessions on the reopened database.
  const reopened = await IndexedDbSessionStore.open('bob-1', factory);
  const bob2: Dev = { ...bob, store: reopened, ds: new DeviceSessions({ deviceId: 'bob-1', identity, store: reopened }), got: [] };
  net.devs.set('bob-1', bob2);
  await net.deliver(alice, await alice.ds.sendGroup(made.group_id, utf8.encode('still there?')));
  assert.deepEqual(bob2.got, ['still there?']);
  await net.deliver(bob2, await bob2.ds.sendGroup(made.group_id, utf8.encode('yes')));
  assert.deepEqual(alice.got, ['yes']);
  reopened.close();
});

test('a sender key of an epoch already behind is ignored (no error for the person, the group unchanged)', async () => {
  const net = new Net();
  const [alice, bob] = [await net.add('alice-1'), await net.add('bob-1')];
  const made = await alice.ds.createGroup('Two', [bob.me], net.dir.claim);
  await net.deliver(alice, made.envelopes);
  const epoch1 = (await alice.ds.groups())[0]!;
  const oldKey = {
    group_id: made.group_id,
    sender_device: 'alice-1',
    epoch: 1,
    iteration: 0,
    chain_key: epoch1.own.chain_key,
    signing_key: epoch1.own.signing_public,
  };
  await net.deliver(
    alice,
    (await alice.ds.changeGroup(made.group_id, { name: 'Two, renamed', members: [bob.me] }, net.dir.claim)).envelopes,
  );
  const before = (await bob.ds.groups())[0]!;
  assert.equal(before.epoch, 2);
  const late = await bob.ds.applyGroupPayload('alice-1', alice.key, { t: 'group', sender_key: oldKey }, net.dir.claim);
  assert.deepEqual(late.envelopes, []);
  assert.deepEqual((await bob.ds.groups())[0], before);
  await net.deliver(alice, await alice.ds.sendGroup(made.group_id, utf8.encode('epoch two')));
  assert.deepEqual(bob.got, ['epoch two']);
});
