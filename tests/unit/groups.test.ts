// Small groups on Sender Keys (src/shared/groups/): three devices whose changes and sender keys travel over
// their pairwise sessions (DeviceSessions, envelope v2), group messages opened by every other member, in any
// order, each once; and the attacks: a tampered, replayed or forged message, a change not made by a member, and a
// removed member who reads nothing new. Plus the 100-device bound and a known-answer vector of the chain.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeviceSessions } from '../../src/shared/device-keys/device-sessions.js';
import { MemorySessionStore } from '../../src/shared/device-keys/session-store.js';
import { toBase64Url, toHex, utf8 } from '../../src/shared/encoding.js';
import { GroupError } from '../../src/shared/groups/errors.js';
import {
  acceptSenderKey,
  applyGroupChange,
  changeGroup,
  createGroup,
  type GroupMember,
  type GroupOutbound,
  type GroupPayload,
  type GroupState,
  groupDecrypt,
  groupEncrypt,
  MAX_GROUP_DEVICES,
} from '../../src/shared/groups/group.js';
import {
  distributionOf,
  type GroupMessage,
  groupMessageAd,
  MAX_GROUP_SKIP,
  newSenderChain,
  type SenderKeyDistribution,
  senderChainStep,
  senderKeyEncrypt,
  senderMessageKey,
} from '../../src/shared/groups/sender-key.js';
import { generateIdentityKeyPair, type IdentityKeyPair } from '../../src/shared/ratchet/pqxdh.js';
import { MemoryPrekeyDirectory } from './fixtures/memory-prekey-directory.js';

interface Device {
  id: string;
  identity: IdentityKeyPair;
  member: GroupMember;
  ds: DeviceSessions;
  group?: GroupState;
  /** Sender keys of a group this device does not know yet (they came before the change that adds it). */
  early: SenderKeyDistribution[];
}

const text = (b: Uint8Array) => utf8.decode(b);
const refused = (code: string) => (e: unknown) => e instanceof GroupError && e.code === code;

async function devices(dir: MemoryPrekeyDirectory, ...ids: string[]): Promise<Device[]> {
  const out: Device[] = [];
  for (const id of ids) {
    const identity = generateIdentityKeyPair();
    const ds = new DeviceSessions({ deviceId: id, identity, store: new MemorySessionStore(), policy: { oneTimeCount: 3, lowWater: 1 } });
    await ds.ensurePrekeysPublished(dir.api(id, toBase64Url(identity.publicKey)));
    out.push({ id, identity, ds, early: [], member: { device_id: id, identity_key: toBase64Url(identity.publicKey) } });
  }
  return out;
}

/**
 * Carries what a step says to send, each payload sealed on the sender's pairwise session with each recipient
 * (one envelope v2 with a ratchet message per device) and opened there, then applied to that device's group.
 */
async function deliver(dir: MemoryPrekeyDirectory, from: Device, outs: GroupOutbound[], all: Device[]): Promise<void> {
  for (const out of outs) {
    const to = all.filter((d) => out.toDevices.includes(d.id));
    if (!to.length) continue;
    const { envelope } = await from.ds.seal(
      to.map((d) => ({ device_id: d.id, identity_key: d.member.identity_key })),
      utf8.encode(JSON.stringify(out.payload)),
      dir.claim,
    );
    for (const d of to) {
      const opened = await d.ds.open(envelope, from.identity.publicKey);
      const payload = JSON.parse(text(opened.plaintext)) as GroupPayload;
      if (payload.change) {
        const r = applyGroupChange(d.group, payload.change, {
          me: d.id,
          from: from.id,
          fromIdentityKey: from.member.identity_key,
          early: d.early,
        });
        d.group = r.state;
        d.early = [];
        if (r.outbound) await deliver(dir, d, [r.outbound], all);
      }
      if (payload.sender_key && d.group) d.group = acceptSenderKey(d.group, payload.sender_key, from.id);
      else if (payload.sender_key && payload.sender_key.sender_device === from.id) d.early.push(payload.sender_key);
    }
  }
}

function send(d: Device, words: string): GroupMessage {
  const r = groupEncrypt(d.group!, utf8.encode(words));
  d.group = r.state;
  return r.message;
}

function read(d: Device, m: GroupMessage): string {
  const r = groupDecrypt(d.group!, m);
  d.group = r.state;
  return text(r.plaintext);
}

async function threeInAGroup() {
  const dir = new MemoryPrekeyDirectory();
  const all = await devices(dir, 'alice-1', 'bob-1', 'carol-1');
  const [alice, bob, carol] = all as [Device, Device, Device];
  const made = createGroup({ me: alice.id, identity: alice.identity, name: 'Middag', members: [bob.member, carol.member] });
  alice.group = made.state;
  await deliver(dir, alice, [made.outbound], all);
  return { dir, all, alice, bob, carol };
}

test('three devices: the change and the sender keys go over the pairwise sessions; every other member reads each message', async () => {
  const { alice, bob, carol } = await threeInAGroup();
  for (const d of [alice, bob, carol]) {
    assert.equal(d.group?.epoch, 1);
    assert.equal(d.group?.name, 'Middag');
    assert.deepEqual(
      d.group?.members.map((m) => m.device_id),
      ['alice-1', 'bob-1', 'carol-1'],
    );
  }
  const m1 = send(alice, 'Middag kl. sju?');
  assert.deepEqual([read(bob, m1), read(carol, m1)], ['Middag kl. sju?', 'Middag kl. sju?']);
  const m2 = send(bob, 'Ja');
  const m3 = send(carol, 'Jeg tar med salat');
  assert.deepEqual(
    [read(alice, m2), read(alice, m3), read(carol, m2), read(bob, m3)],
    ['Ja', 'Jeg tar med salat', 'Ja', 'Jeg tar med salat'],
  );
});

test('out of order, each once: later messages first, a duplicate refused without changing the state', async () => {
  const { alice, bob } = await threeInAGroup();
  const ms = ['a', 'b', 'c', 'd'].map((w) => send(alice, w));
  assert.deepEqual(
    [3, 0, 2, 1].map((i) => read(bob, ms[i]!)),
    ['d', 'a', 'c', 'b'],
  );
  const before = structuredClone(bob.group);
  assert.throws(() => read(bob, ms[2]!), refused('group_duplicate'));
  assert.deepEqual(bob.group, before, 'the refused duplicate changed nothing');
  // The skip bound: a message claiming to be far ahead in the chain is refused.
  const far = senderKeyEncrypt(
    { ...alice.group!.own, iteration: alice.group!.own.iteration + MAX_GROUP_SKIP + 1 },
    alice.group!.group_id,
    alice.id,
    utf8.encode('x'),
  );
  assert.throws(() => read(bob, far.message), refused('group_too_many_skipped'));
});

test('a sender key seen again does not wind its chain back: a message read since stays read', async () => {
  const { alice, bob } = await threeInAGroup();
  const key = distributionOf(alice.group!.own, alice.group!.group_id, alice.id);
  const m = send(alice, 'once');
  assert.equal(read(bob, m), 'once');
  bob.group = acceptSenderKey(bob.group!, key, alice.id);
  assert.throws(() => read(bob, m), refused('group_duplicate'), 'replayed (say, in a new envelope by a node): still refused');
});

test('tampered, re-addressed or forged messages are refused; a member holding the chain cannot speak for another', async () => {
  const { alice, bob, carol } = await threeInAGroup();
  const m = send(alice, 'secret plan');
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  assert.throws(() => read(bob, { ...m, ciphertext: flip(m.ciphertext) }), refused('group_bad_message'));
  assert.throws(() => read(bob, { ...m, iteration: m.iteration + 1 }), refused('group_bad_message'), 'the header is signed');
  assert.throws(() => read(bob, { ...m, sender_device: 'carol-1' }), refused('group_bad_message'));
  // Carol holds alice's chain key (she can read alice): she derives the next key and seals "as alice", signing
  // with a key of her own. The signature gives it away.
  const forgedChain = { ...carol.group!.chains['alice-1']![0]!, signing_private: toBase64Url(generateIdentityKeyPair().privateKey) };
  const forged = senderKeyEncrypt(forgedChain, m.group_id, 'alice-1', utf8.encode('send carol your PIN')).message;
  assert.throws(() => read(bob, forged), refused('group_bad_message'));
  assert.equal(read(bob, m), 'secret plan', 'the real message still opens after the refusals');
});

test('removing a member rotates every remaining sender key: the removed one reads nothing new, and cannot speak in the group', async () => {
  const { dir, all, alice, bob, carol } = await threeInAGroup();
  const carolOld = structuredClone(carol.group!); // what carol keeps if she ignores her removal
  const before = send(alice, 'before');
  assert.equal(read(carol, before), 'before');

  const ch = changeGroup(alice.group!, alice.identity, { members: [alice.member, bob.member] });
  alice.group = ch.state;
  await deliver(dir, alice, ch.outbound, all);
  assert.equal(carol.group, undefined, 'carol was told she is out and forgot the group');
  assert.equal(bob.group?.epoch, 2);
  assert.notEqual(alice.group.own.chain_key, carolOld.chains['alice-1']![0]!.chain_key);
  assert.deepEqual(Object.keys(bob.group!.chains), ['alice-1'], "carol's chains are gone from bob");

  const after = send(alice, 'after carol left');
  const fromBob = send(bob, 'bob too');
  assert.equal(read(bob, after), 'after carol left');
  assert.equal(read(alice, fromBob), 'bob too');
  // Carol, with everything she held: no key of epoch 2, and her epoch-1 chains cannot open them.
  assert.throws(() => groupDecrypt(carolOld, after), refused('group_unknown_sender'));
  const relabelled = { ...after, epoch: 1 };
  assert.throws(() => groupDecrypt(carolOld, relabelled), refused('group_bad_message'));
  // Carol still sends on her old epoch: the others dropped her chain.
  const fromCarol = groupEncrypt(carolOld, utf8.encode('still here')).message;
  assert.throws(() => read(bob, fromCarol), refused('group_unknown_sender'));
  // And she cannot change the group back.
  const comeback = changeGroup(carolOld, carol.identity, { members: [alice.member, bob.member, carol.member] });
  assert.throws(
    () =>
      applyGroupChange(
        bob.group,
        { ...comeback.outbound[0]!.payload.change!, epoch: 3 },
        { me: bob.id, from: carol.id, fromIdentityKey: carol.member.identity_key },
      ),
    refused('group_bad_change'),
  );
});

test('a change must be the next epoch, signed by a member under its listed key; adding us needs a member to do it', async () => {
  const { alice, bob, carol } = await threeInAGroup();
  const ch = changeGroup(alice.group!, alice.identity, { name: 'Middag fredag', members: [alice.member, bob.member, carol.member] });
  const change = ch.outbound[0]!.payload.change!;
  const ctx = { me: bob.id, from: alice.id, fromIdentityKey: alice.member.identity_key };
  assert.throws(() => applyGroupChange(bob.group, { ...change, name: 'Changed on the way' }, ctx), refused('group_bad_change'));
  assert.throws(() => applyGroupChange(bob.group, { ...change, epoch: 5 }, ctx), refused('group_bad_change'));
  assert.throws(() => applyGroupChange(bob.group, { ...change, by_device: 'carol-1' }, ctx), refused('group_bad_change'));
  const r = applyGroupChange(bob.group, change, ctx);
  assert.equal(r.state?.name, 'Middag fredag');
  assert.throws(() => applyGroupChange(r.state, change, ctx), refused('group_bad_change'), 'the same change twice');

  // Someone outside makes a "group" that lists bob, and sends it as if alice had: it must come from its signer.
  const mallory = generateIdentityKeyPair();
  const fake = createGroup({ me: 'mallory-1', identity: mallory, name: 'Fake', members: [bob.member] }).outbound.payload.change!;
  assert.throws(
    () => applyGroupChange(undefined, fake, { me: bob.id, from: alice.id, fromIdentityKey: alice.member.identity_key }),
    refused('group_bad_change'),
  );
  // A sender key from a non-member, or relayed by another device, is refused.
  const key = ch.outbound[0]!.payload.sender_key!;
  assert.throws(() => acceptSenderKey(r.state!, key, 'carol-1'), refused('group_bad_message'));
});

test('a sender key that overtakes its change waits for it', async () => {
  const { alice, bob, carol } = await threeInAGroup();
  const ch = changeGroup(alice.group!, alice.identity, { members: [alice.member, bob.member, carol.member] });
  alice.group = ch.state;
  const change = ch.outbound[0]!.payload.change!;
  // Carol applied the change and answered with her new key; it reaches bob before alice's change does.
  const carolSide = applyGroupChange(carol.group, change, { me: carol.id, from: alice.id, fromIdentityKey: alice.member.identity_key });
  carol.group = carolSide.state;
  bob.group = acceptSenderKey(bob.group!, carolSide.outbound!.payload.sender_key!, carol.id);
  assert.equal(bob.group.pending.length, 1);
  bob.group = applyGroupChange(bob.group, change, { me: bob.id, from: alice.id, fromIdentityKey: alice.member.identity_key }).state!;
  assert.equal(read(bob, send(carol, 'epoch two')), 'epoch two');
});

test(`at most ${MAX_GROUP_DEVICES} devices`, () => {
  const me = generateIdentityKeyPair();
  const member = (i: number): GroupMember => ({ device_id: `dev-${i}`, identity_key: toBase64Url(generateIdentityKeyPair().publicKey) });
  const full = createGroup({
    me: 'me-1',
    identity: me,
    name: 'Big',
    members: Array.from({ length: MAX_GROUP_DEVICES - 1 }, (_, i) => member(i)),
  });
  assert.equal(full.state.members.length, MAX_GROUP_DEVICES);
  assert.equal(full.outbound.toDevices.length, MAX_GROUP_DEVICES - 1);
  assert.throws(
    () =>
      createGroup({ me: 'me-1', identity: me, name: 'Too big', members: Array.from({ length: MAX_GROUP_DEVICES }, (_, i) => member(i)) }),
    refused('group_too_large'),
  );
  assert.throws(() => changeGroup(full.state, me, { members: [...full.state.members, member(500)] }), refused('group_too_large'));
});

// Our own vector (docs/e2ee.md "Groups"): the chain and message keys follow libsignal's SenderChainKey and
// SenderMessageKey derivations; the cipher is ChaCha20-Poly1305 (libsignal: AES-256-CBC), so the ciphertext is ours.
test('known answers: chain steps, message key and ciphertext for a fixed chain key', () => {
  const chainKey = new Uint8Array(32).fill(0x01);
  const s0 = senderChainStep(chainKey);
  const mk = senderMessageKey(s0.seed);
  const vector = {
    seed0: toHex(s0.seed),
    chain1: toHex(s0.next),
    iv0: toHex(mk.iv),
    cipherKey0: toHex(mk.cipherKey),
  };
  assert.deepEqual(vector, GROUP_VECTOR.keys);
  const fixed = (n: number) => new Uint8Array(n).fill(n === 32 ? 0x01 : 0x02);
  const chain = { ...newSenderChain(7, fixed), chain_key: toBase64Url(chainKey) };
  const { message } = senderKeyEncrypt(chain, 'group-vector', 'dev-vector', utf8.encode('hello group'));
  assert.equal(toHex(groupMessageAd(message)), GROUP_VECTOR.ad);
  assert.equal(Buffer.from(message.ciphertext, 'base64url').toString('hex'), GROUP_VECTOR.ciphertext);
});

/** Computed independently with node:crypto (HMAC, HKDF, ChaCha20-Poly1305) from the same inputs. */
const GROUP_VECTOR = {
  keys: {
    seed0: 'cc6efb872c237f565ee82df42e4cab00098b13710395e3c6d29f2907d69e4f04',
    chain1: 'c31d79abaf8f2150ee1cfe3dc732eed02a56f79647909bad055a831cb762e9a2',
    iv0: 'b33d1e557776dcb63983699e5140dd2d',
    cipherKey0: '7e5ee45f1aa1f5e50874bd77f43672b897b4bfcc0f3c6aad91d73161efc3f4b6',
  },
  ad: '0000001773616c6974612f67726f75702f76312f6d6573736167650000000c67726f75702d766563746f720000000a6465762d766563746f720000000700000000',
  ciphertext: '9ffe08c36115e0764ee77a32b9d833a0d3e20daf57a75ae746f665',
};
