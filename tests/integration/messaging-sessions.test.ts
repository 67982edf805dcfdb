// Forward-secret messaging through a real headless node: MessagingClients that hold DeviceSessions publish their
// prekeys at the node, claim each other's bundles there and seal envelope v2; v1 envelopes still open; a device
// that has published no prekeys is reached with v1, but a conversation that had a session is never sealed with
// v1 again when the directory stops answering claims; an envelope sealed while the node was away waits in the
// session outbox and goes later.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { MessagingClient, MessagingError, type MessagingTransport } from '../../src/shared/client/messaging-client.js';
import type { Envelope } from '../../src/shared/e2ee/index.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { generateIdentityKeyPair, type X25519KeyPair } from '../../src/shared/ratchet/pqxdh.js';
import { PrekeyStatus } from '../../src/shared/wire/prekeys.js';
import { idOf, keysOf, type Paired, readAll, sessionsFor, withSessions } from '../helpers/session-devices.js';
import { cleanupAll, filesUnder, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';

after(cleanupAll);

function uiTransport(node: TestNode): MessagingTransport {
  return { request: (method, path, body) => node.admin(path, { method, ...(body !== undefined ? { body } : {}) }) };
}

/** The desktop UI as a messaging device: its key registered, its sessions made, its prekeys published. */
async function uiDevice(node: TestNode, keys: X25519KeyPair = generateIdentityKeyPair()): Promise<MessagingClient> {
  const reg = await node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: toBase64Url(keys.publicKey) } });
  assert.equal(reg.status, 200, JSON.stringify(reg.body));
  const device_id: string = reg.body.device_id;
  // The default policy, as the page has it: a first publish of a hundred one-time keys of each kind.
  const client = new MessagingClient(uiTransport(node), { device_id, ...keys }, '/api/admin/messages', sessionsFor(device_id, keys, {}));
  await client.publishPrekeys();
  return client;
}

/** Everything in the inbox as [envelope version, text] (false for a message that did not open). */
async function versionsAndTexts(client: MessagingClient): Promise<[number, string | false][]> {
  return (await readAll(client)).map((m) => [m.v, m.ok && m.text]);
}

/** The phone's own transport, but its prekey claims answered with `answer()` while that gives one. */
function claimsAnswered(p: Paired, answer: () => { status: number; body: unknown } | undefined): MessagingTransport {
  return {
    request: (method, path, body) => {
      const a = path.endsWith('/claim') ? answer() : undefined;
      return a ? Promise.resolve(a as never) : p.client.request(method, path, body);
    },
  };
}

async function sendSealed(client: MessagingClient, to: string, text: string): Promise<Envelope> {
  const env = await client.sealText(to, text);
  await client.sendEnvelope(env);
  return env;
}

describe('messaging on forward-secret sessions (one node)', () => {
  test('two phones: v2 both ways from claimed bundles, each claim takes one one-time prekey, the node keeps no plaintext', async () => {
    const node = await startTestNode();
    const a = await pairPhone(node);
    const b = await pairPhone(node);
    const alice = await withSessions(a);
    const bob = await withSessions(b);
    const bobLeft = async () => PrekeyStatus.parse((await b.client.request('GET', '/api/messages/prekeys')).body).one_time_left;
    assert.equal(await bobLeft(), 5);

    const first = await sendSealed(alice, idOf(b), 'Hei Bo — hemmelig middag kl. sju');
    assert.equal(first.v, 2);
    assert.equal(await bobLeft(), 4, "the session took one of bob's one-time prekeys");
    const [got] = await readAll(bob);
    assert.ok(got?.ok, JSON.stringify(got));
    assert.deepEqual([got.v, got.text, got.from_device], [2, 'Hei Bo — hemmelig middag kl. sju', idOf(a)]);

    const reply = await sendSealed(bob, idOf(a), 'Ja, takk');
    assert.equal(reply.v, 2);
    assert.equal(reply.v === 2 && reply.wraps[0]!.pre, undefined, 'bob answers on the session alice started');
    assert.deepEqual(
      (await readAll(alice)).map((m) => m.ok && m.text),
      ['Ja, takk'],
    );
    const second = await sendSealed(alice, idOf(b), 'Fint');
    assert.equal(second.v === 2 && second.wraps[0]!.pre, undefined, 'alice heard back: no initial message any more');
    assert.deepEqual(
      (await readAll(bob)).map((m) => m.ok && m.text),
      ['Fint'],
    );
    assert.equal(await bobLeft(), 4, 'no claim once a session is held');

    for (const f of filesUnder(node.dataDir)) {
      const bytes = readFileSync(f);
      for (const secret of ['hemmelig middag', 'Ja, takk']) assert.ok(!bytes.includes(Buffer.from(secret)), `${f} holds "${secret}"`);
    }
  });

  test('v1 still opens; a device with no prekeys is reached with v1, and with v2 once it published', async () => {
    const node = await startTestNode();
    const a = await pairPhone(node);
    const c = await pairPhone(node);
    const d = await pairPhone(node);
    const alice = await withSessions(a);
    const carol = new MessagingClient(c.client, keysOf(c)); // an older page: no sessions at all
    const daveKeys = keysOf(d);
    const dave = new MessagingClient(d.client, daveKeys, '/api/messages', sessionsFor(daveKeys.device_id, daveKeys));

    const fromCarol = await sendSealed(carol, idOf(a), 'v1 from carol');
    assert.equal(fromCarol.v, 1);
    const toCarol = await sendSealed(alice, idOf(c), 'back to carol');
    assert.equal(toCarol.v, 1, 'carol published no prekeys');
    assert.deepEqual(await versionsAndTexts(alice), [[1, 'v1 from carol']]);
    assert.deepEqual(await versionsAndTexts(carol), [[1, 'back to carol']]);
    const toDaveV1 = await sendSealed(alice, idOf(d), 'before dave published');
    assert.equal(toDaveV1.v, 1);
    await dave.publishPrekeys();
    const toDaveV2 = await sendSealed(alice, idOf(d), 'after dave published');
    assert.equal(toDaveV2.v, 2);
    assert.deepEqual(await versionsAndTexts(dave), [
      [1, 'before dave published'],
      [2, 'after dave published'],
    ]);
    // And dave answers on the session alice started.
    assert.equal((await sendSealed(dave, idOf(a), 'hello from dave')).v, 2);
    assert.deepEqual(await versionsAndTexts(alice), [[2, 'hello from dave']]);
  });

  test('the desktop UI and a phone on sessions; when the UI comes back under a new key and claims are refused, no v1 downgrade', async () => {
    const node = await startTestNode();
    const p = await pairPhone(node);
    let refuseClaims = false;
    const guarded = claimsAnswered(p, () =>
      refuseClaims ? { status: 404, body: { error: 'no_prekeys', message: 'made up by the test' } } : undefined,
    );
    const phone = await withSessions(p, guarded);
    const ui = await uiDevice(node);
    const uiId = (await ui.directory()).me;
    const published = PrekeyStatus.parse((await node.admin('/api/admin/messages/prekeys')).body);
    assert.deepEqual([published.one_time_left, published.kem_one_time_left], [100, 100], 'a full publish fits the body limit');

    await sendSealed(phone, uiId, 'to the desktop');
    assert.deepEqual(await versionsAndTexts(ui), [[2, 'to the desktop']]);
    await sendSealed(ui, idOf(p), 'to the phone');
    assert.deepEqual(await versionsAndTexts(phone), [[2, 'to the phone']]);

    // The UI's storage is cleared: a new key under the same device id, and (say) the node refuses claims.
    const ui2 = await uiDevice(node);
    await phone.directory(true); // as a page does on the node's directory push
    refuseClaims = true;
    await assert.rejects(phone.sealText(uiId, 'must not go as v1'), (e: unknown) => e instanceof MessagingError && e.code === 'no_prekeys');
    refuseClaims = false;
    const changed: string[][] = [];
    phone.onIdentityChanged((ids) => changed.push(ids));
    await sendSealed(phone, uiId, 'to the new desktop key');
    assert.deepEqual(changed, [[uiId]], 'the session started again under another key: safety number changed');
    assert.deepEqual(await versionsAndTexts(ui2), [[2, 'to the new desktop key']]);
  });

  test('no session yet and the directory away (503): that message goes as v1; once a bundle is had, v2', async () => {
    const node = await startTestNode();
    const a = await pairPhone(node);
    const b = await pairPhone(node);
    let answer: { status: number; body: unknown } | undefined = { status: 503, body: { error: 'cloud_unreachable', message: 'made up' } };
    const alice = await withSessions(
      a,
      claimsAnswered(a, () => answer),
    );
    const bob = await withSessions(b);
    assert.equal((await sendSealed(alice, idOf(b), 'first, directory away')).v, 1);
    // Any other refusal is an error, never v1.
    answer = { status: 502, body: { error: 'cloud_rejected', message: 'made up' } };
    await assert.rejects(alice.sealText(idOf(b), 'x'), (e: unknown) => e instanceof MessagingError && e.code === 'cloud_rejected');
    answer = undefined;
    assert.equal((await sendSealed(alice, idOf(b), 'then on a session')).v, 2);
    assert.deepEqual(await versionsAndTexts(bob), [
      [1, 'first, directory away'],
      [2, 'then on a session'],
    ]);
  });

  test('sealed while the node could not be reached: kept in the session outbox, sent later as it was, opened once', async () => {
    const node = await startTestNode();
    const a = await pairPhone(node);
    const b = await pairPhone(node);
    let away = false;
    const flaky: MessagingTransport = {
      request: (method, path, body) =>
        away && method === 'POST' && path === '/api/messages'
          ? Promise.reject(new TypeError('fetch failed'))
          : a.client.request(method, path, body),
    };
    const alice = await withSessions(a, flaky);
    const bob = await withSessions(b);
    away = true;
    await assert.rejects(alice.sendText(idOf(b), 'while away'), TypeError);
    const pending = await alice.pendingEnvelopes();
    assert.equal(pending.length, 1);
    away = false;
    // After a reload the page finds it there and sends that very envelope (its ratchet step is already spent).
    await alice.sendEnvelope(pending[0]!);
    await alice.sendEnvelope(pending[0]!);
    assert.deepEqual(await alice.pendingEnvelopes(), []);
    const got = await readAll(bob);
    assert.deepEqual(
      got.map((m) => [m.id, m.ok && m.text]),
      [[pending[0]!.id, 'while away']],
    );
  });
});

describe('groups on Sender Keys through a node', () => {
  test('three phones: a group is made, its messages go as envelopes v3 through the node, a removed phone reads nothing new', async () => {
    const node = await startTestNode();
    const [a, b, c] = [await pairPhone(node), await pairPhone(node), await pairPhone(node)];
    const [alice, bob, carol] = [await withSessions(a), await withSessions(b), await withSessions(c)];
    const group = await alice.createGroup('Middag', [idOf(b), idOf(c)]);
    assert.equal(group.members.length, 3);
    // Bob and carol read the change (and answer with their keys), then alice reads their keys.
    for (const m of [
      ...(await readAll(bob)),
      ...(await readAll(carol)),
      ...(await readAll(alice)),
      ...(await readAll(bob)),
      ...(await readAll(carol)),
    ])
      assert.ok(m.ok && m.group_update, JSON.stringify(m));
    for (const cl of [bob, carol])
      assert.deepEqual(
        (await cl.groups()).map((g) => g.name),
        ['Middag'],
      );

    const sent = await alice.sendGroupText(group.group_id, 'Middag kl. sju?');
    assert.deepEqual(
      sent.map((e) => e.v),
      [3],
    );
    await bob.sendGroupText(group.group_id, 'Ja!');
    const shown = async (cl: MessagingClient) =>
      (await readAll(cl)).map((m) => (m.ok ? [m.group_id === group.group_id, m.from_device, m.text] : ['!', m.error]));
    assert.deepEqual(await shown(carol), [
      [true, idOf(a), 'Middag kl. sju?'],
      [true, idOf(b), 'Ja!'],
    ]);
    assert.deepEqual(await shown(alice), [[true, idOf(b), 'Ja!']]);
    assert.deepEqual(await shown(bob), [[true, idOf(a), 'Middag kl. sju?']]);

    await alice.changeGroup(group.group_id, { deviceIds: [idOf(b)] });
    for (const cl of [bob, carol, alice]) await readAll(cl);
    assert.deepEqual(await carol.groups(), [], 'carol is out');
    await alice.sendGroupText(group.group_id, 'uten carol');
    assert.deepEqual(await shown(bob), [[true, idOf(a), 'uten carol']]);
    assert.deepEqual(await shown(carol), [], 'nothing of the new epoch is sent to carol');
    // A forged copy handed to carol's inbox anyway does not open there.
    const copy = (await alice.sendGroupText(group.group_id, 'still out'))[0]!;
    await node.core.messaging.storeInbound({ ...copy, to: [idOf(b), idOf(c)].sort() });
    const forCarol = await readAll(carol);
    assert.equal(forCarol.length, 1);
    assert.equal(forCarol[0]!.ok, false);
  });
});
