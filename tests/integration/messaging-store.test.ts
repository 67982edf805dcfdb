// The node's message store and messaging routes: real nodes in this process, real paired phones (signed
// requests, signed WebSockets). The cloud side is simulated by calling the MessageStorePort methods the cloud
// link would call (pendingOutbound / accepted / rejected / delivered / storeInbound). Envelopes that must go to
// the cloud are addressed to a device of another home (`far()`): one to a device of the same node is delivered
// locally (tests/integration/home-routing.test.ts).

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import WebSocket from 'ws';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { MessagingClient } from '../../src/shared/client/messaging-client.js';
import { type EnvelopeV1 as Envelope, MAX_ENVELOPE_JSON_BYTES, MAX_PLAINTEXT_BYTES, seal } from '../../src/shared/e2ee/index.js';
import { toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { type DirectoryEntry, MessagingDirectory } from '../../src/shared/wire/relay.js';
import { cleanupAll, eventually, pairPhone, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';

after(cleanupAll);

type Paired = Awaited<ReturnType<typeof pairPhone>>;

/** The node believes it is linked (these tests play the cloud's part themselves, through MessageStorePort). */
const linked = (node: TestNode) => {
  node.core.cloud.configured = () => true;
  node.core.cloud.status = () => 'connected';
};

const keysOf = (p: Paired) => ({ device_id: p.phone.identity.node_id, privateKey: p.phone.privateKey, publicKey: p.phone.publicKey });

function envelopeFrom(
  from: { device_id: string; privateKey: Uint8Array; publicKey: Uint8Array },
  to: { device_id: string; publicKey: Uint8Array }[],
  text = 'hello',
): Envelope {
  return seal(utf8.encode(JSON.stringify({ t: 'text', body: text })), {
    from,
    to: [...to].sort((a, b) => (a.device_id < b.device_id ? -1 : 1)),
  });
}

const recipient = (p: Paired) => ({ device_id: p.phone.identity.node_id, publicKey: p.phone.publicKey });
/** A device of another home: not served by this node, so a message to it goes to the cloud's outbox. */
let farCount = 0;
const far = () => ({ device_id: `phone-far-${++farCount}`, publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()) });

/** A signed device WebSocket that records every frame. */
async function deviceSocket(p: Paired) {
  const frames: any[] = [];
  const ws = new WebSocket(p.client.webSocketUrl('/api/device/events'));
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await eventually(() => frames.find((f) => f.type === 'hello'), 'the hello frame');
  return { ws, frames, close: () => ws.close() };
}

async function adminSocket(node: TestNode) {
  const frames: any[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/api/admin/events`, ['salita-admin', node.adminToken]);
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await eventually(() => frames.find((f) => f.type === 'state'), 'the first state push');
  return { ws, frames, close: () => ws.close() };
}

async function setup() {
  const node = await startTestNode();
  const a = await pairPhone(node);
  const b = await pairPhone(node);
  return { node, a, b };
}

describe('sending (device -> node outbox)', () => {
  test('the largest envelope (64 KiB of plaintext) is taken; a bigger body is 413 payload_too_large', async () => {
    const { node, a, b } = await setup();
    linked(node);
    // Text that JSON-encodes to just under the plaintext limit.
    const big = envelopeFrom(keysOf(a), [recipient(b)], 'x'.repeat(MAX_PLAINTEXT_BYTES - 40));
    const r = await a.client.request('POST', '/api/messages', { envelope: big });
    assert.equal(r.status, 202, JSON.stringify(r.body).slice(0, 300));
    const tooBig = await a.client.request('POST', '/api/messages', { envelope: big, padding: 'y'.repeat(MAX_ENVELOPE_JSON_BYTES) });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error, 'payload_too_large');
  });

  test('a send is in the outbox when the 202 arrives; the same envelope again is the same answer, one row', async () => {
    const { node, a } = await setup();
    linked(node);
    let queued = 0;
    node.core.messaging.onQueued(() => queued++);
    const env = envelopeFrom(keysOf(a), [far()]);
    const r = await a.client.request('POST', '/api/messages', { envelope: env });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body, { id: env.id, status: 'queued' });
    // Right after the answer, without waiting for anything: the row is there.
    const pending = node.core.messaging.pendingOutbound(0, 10);
    assert.equal(pending.length, 1);
    assert.equal(pending[0]!.id, env.id);
    assert.deepEqual(pending[0]!.envelope, env);
    assert.equal(node.core.messaging.outboxSize(), 1);
    assert.equal(queued, 1, 'onQueued fired once');

    const again = await a.client.request('POST', '/api/messages', { envelope: env });
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, { id: env.id, status: 'queued' });
    assert.equal(node.core.messaging.outboxSize(), 1, 'a resend does not queue a second copy');
    assert.equal(queued, 1, 'nothing new was queued');

    // After the cloud took it, a resend answers the current status and queues nothing.
    node.core.messaging.accepted(env.id);
    assert.equal(node.core.messaging.outboxSize(), 0);
    const third = await a.client.request('POST', '/api/messages', { envelope: env });
    assert.deepEqual(third.body, { id: env.id, status: 'sent', route: 'cloud' });
    assert.equal(node.core.messaging.outboxSize(), 0);

    // Another envelope under the same id is refused.
    const other = { ...envelopeFrom(keysOf(a), [far()], 'other text'), id: env.id };
    const conflict = await a.client.request('POST', '/api/messages', { envelope: other });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error, 'invalid_envelope');
    assert.equal(conflict.body.reason, 'id_conflict');
  });

  test('concurrent sends in one turn all commit, in order, each answered once', async () => {
    const { node, a } = await setup();
    linked(node);
    const envs = Array.from({ length: 12 }, (_, i) => envelopeFrom(keysOf(a), [far()], `m${i}`));
    const answers = await Promise.all(envs.map((envelope) => a.client.request('POST', '/api/messages', { envelope })));
    for (const r of answers) assert.equal(r.status, 202, JSON.stringify(r.body));
    const pending = node.core.messaging.pendingOutbound(0, 100);
    assert.deepEqual(new Set(pending.map((p) => p.id)), new Set(envs.map((e) => e.id)));
    assert.deepEqual(
      pending.map((p) => p.seq),
      [...pending.map((p) => p.seq)].sort((x, y) => x - y),
    );
    assert.equal(node.core.messaging.pendingOutbound(pending[5]!.seq, 100).length, 6, 'afterSeq pages');
    assert.equal(node.core.messaging.pendingOutbound(0, 3).length, 3, 'limit pages');
  });

  test('a phone cannot send as another device: 403 sender_mismatch, nothing queued', async () => {
    const { node, a, b } = await setup();
    linked(node);
    const forged = envelopeFrom(keysOf(b), [recipient(a)]);
    const r = await a.client.request('POST', '/api/messages', { envelope: forged });
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'sender_mismatch');
    assert.equal(node.core.messaging.outboxSize(), 0);
  });

  test('malformed or tampered envelopes: 400 invalid_envelope; a bad body: 400 invalid_request', async () => {
    const { node, a, b } = await setup();
    linked(node);
    const env = envelopeFrom(keysOf(a), [recipient(b)]);
    const cases: [string, unknown][] = [
      ['extra field', { ...env, note: 'x' }],
      ['wraps do not match to', { ...env, header: { ...env.header, wraps: [...env.header.wraps, env.header.wraps[0]] } }],
      [
        'to not sorted',
        { ...env, to: [env.to[0], 'aaa-first'], header: { ...env.header, wraps: [env.header.wraps[0], env.header.wraps[0]] } },
      ],
      ['bad id', { ...env, id: 'not-a-uuid' }],
      ['bad base64', { ...env, ciphertext: `!!!!${env.ciphertext.slice(4)}` }],
      ['version 2', { ...env, v: 2 }],
      ['not an object', 'envelope'],
    ];
    for (const [what, envelope] of cases) {
      const r = await a.client.request('POST', '/api/messages', { envelope });
      assert.equal(r.status, 400, what);
      assert.equal(r.body.error, 'invalid_envelope', what);
    }
    const noEnvelope = await a.client.request('POST', '/api/messages', { envelop: env });
    assert.equal(noEnvelope.status, 400);
    assert.equal(noEnvelope.body.error, 'invalid_request');
    assert.equal(node.core.messaging.outboxSize(), 0);
  });

  test('without a cloud link: 409 cloud_not_linked for a device of another home; the directory says not_configured', async () => {
    const { node, a } = await setup();
    const env = envelopeFrom(keysOf(a), [far()]);
    const r = await a.client.request('POST', '/api/messages', { envelope: env });
    assert.equal(r.status, 409);
    assert.equal(r.body.error, 'cloud_not_linked');
    assert.equal(node.core.messaging.outboxSize(), 0);
    const dir = await a.client.request('GET', '/api/messages/directory');
    assert.equal(dir.status, 200);
    assert.equal(dir.body.cloud.status, 'not_configured');
  });

  test('unsigned calls are refused', async () => {
    const { node } = await setup();
    const r = await fetch(`${node.base}/api/messages/inbox`);
    assert.equal(r.status, 401);
    const admin = await fetch(`${node.base}/api/admin/messages/inbox`);
    assert.equal(admin.status, 401);
  });
});

describe('statuses (cloud -> node -> sender)', () => {
  test("sent, delivered and failed show in /outbox and are pushed to the sender's socket", async () => {
    const { node, a, b } = await setup();
    linked(node);
    const sock = await deviceSocket(a);
    const e1 = envelopeFrom(keysOf(a), [far()], 'one');
    const e2 = envelopeFrom(keysOf(a), [far()], 'two');
    for (const envelope of [e1, e2]) assert.equal((await a.client.request('POST', '/api/messages', { envelope })).status, 202);
    let outbox = (await a.client.request('GET', '/api/messages/outbox')).body.messages;
    assert.deepEqual(
      outbox.map((m: any) => [m.id, m.status]),
      [
        [e1.id, 'queued'],
        [e2.id, 'queued'],
      ],
    );
    assert.deepEqual(outbox[0].to, e1.to);

    const m = node.core.messaging;
    m.accepted(e1.id);
    await eventually(() => sock.frames.find((f) => f.type === 'message_status' && f.id === e1.id && f.status === 'sent'), 'sent push');
    m.delivered(e1.id, e1.to);
    await eventually(
      () => sock.frames.find((f) => f.type === 'message_status' && f.id === e1.id && f.status === 'delivered'),
      'delivered push',
    );
    m.accepted(e1.id); // a late, repeated accept never moves a status back
    m.rejected(e2.id, 'unknown_recipient', 'no such device');
    const failed = await eventually(() => sock.frames.find((f) => f.type === 'message_status' && f.id === e2.id), 'failed push');
    assert.deepEqual(failed, { type: 'message_status', id: e2.id, status: 'failed', error: 'unknown_recipient' });
    m.delivered('0190a000-0000-7000-8000-000000000000', ['x-unknown']); // unknown ids are ignored

    outbox = (await a.client.request('GET', '/api/messages/outbox')).body.messages;
    assert.deepEqual(
      outbox.map((x: any) => [x.id, x.status, x.error]),
      [
        [e1.id, 'delivered', undefined],
        [e2.id, 'failed', 'unknown_recipient'],
      ],
    );
    assert.equal(m.outboxSize(), 0, 'every final answer leaves the outbox');
    // Statuses are the sender's only: the other phone sees none of them.
    assert.deepEqual((await b.client.request('GET', '/api/messages/outbox')).body.messages, []);
    assert.equal(sock.frames.filter((f) => f.type === 'message_status' && f.id === e1.id && f.status === 'sent').length, 1);
    sock.close();
  });
});

describe('receiving (cloud -> node inbox -> device)', () => {
  test('storeInbound pushes to the device socket and fills its inbox; a duplicate stores nothing new', async () => {
    const { node, a, b } = await setup();
    const sock = await deviceSocket(b);
    const env = envelopeFrom(keysOf(a), [recipient(b)]);
    await node.core.messaging.storeInbound(env);
    // Resolved = on disk: the inbox already answers.
    const page = (await b.client.request('GET', '/api/messages/inbox')).body;
    assert.equal(page.messages.length, 1);
    assert.deepEqual(page.messages[0].envelope, env);
    const push = await eventually(() => sock.frames.find((f) => f.type === 'envelope'), 'the envelope push');
    assert.equal(push.seq, page.messages[0].seq);
    assert.deepEqual(push.envelope, env);
    assert.equal(push.received_at, page.messages[0].received_at);
    assert.equal(page.next_after, push.seq);

    await node.core.messaging.storeInbound(env);
    await Promise.all([node.core.messaging.storeInbound(env), node.core.messaging.storeInbound(env)]);
    assert.equal((await b.client.request('GET', '/api/messages/inbox')).body.messages.length, 1, 'one row per (envelope, device)');
    assert.equal((await a.client.request('GET', '/api/messages/inbox')).body.messages.length, 0, 'not a recipient: nothing');
    sock.close();
  });

  test('an envelope the cloud sends again after the device acked it is not delivered twice (tombstone)', async () => {
    // The crash window: the node stored it and the device read + acked it, but the node died before acking the
    // cloud, so the cloud sends it again after the restart.
    const { node, a, b } = await setup();
    const env = envelopeFrom(keysOf(a), [recipient(b)]);
    await node.core.messaging.storeInbound(env);
    const page = (await b.client.request('GET', '/api/messages/inbox')).body;
    assert.equal(page.messages.length, 1);
    await b.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: page.next_after });
    const sock = await deviceSocket(b);
    await node.core.messaging.storeInbound(env);
    assert.equal((await b.client.request('GET', '/api/messages/inbox')).body.messages.length, 0, 'the redelivery is absorbed');
    // A new envelope is still delivered and pushed (so the absent push above is not just a dead socket).
    const next = envelopeFrom(keysOf(a), [recipient(b)], 'next');
    await node.core.messaging.storeInbound(next);
    const push = await eventually(() => sock.frames.find((f) => f.type === 'envelope'), 'the next push');
    assert.equal(push.envelope.id, next.id);
    assert.equal(sock.frames.filter((f) => f.type === 'envelope').length, 1, 'no push for the redelivered one');
    sock.close();
  });

  test("an envelope to two local devices lands in both inboxes; ack removes only the caller's rows", async () => {
    const { node, a, b } = await setup();
    const c = await pairPhone(node);
    const m = node.core.messaging;
    const toBoth = envelopeFrom(keysOf(c), [recipient(a), recipient(b)]);
    const toA = envelopeFrom(keysOf(c), [recipient(a)]);
    await Promise.all([m.storeInbound(toBoth), m.storeInbound(toA)]);
    const aPage = (await a.client.request('GET', '/api/messages/inbox')).body;
    const bPage = (await b.client.request('GET', '/api/messages/inbox')).body;
    assert.equal(aPage.messages.length, 2);
    assert.equal(bPage.messages.length, 1);

    // B acks "everything" (a seq beyond A's rows): only B's row goes.
    const top = Math.max(...aPage.messages.map((x: any) => x.seq), ...bPage.messages.map((x: any) => x.seq));
    const ack = await b.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: top });
    assert.deepEqual(ack.body, { ok: true, removed: 1 });
    assert.equal((await b.client.request('GET', '/api/messages/inbox')).body.messages.length, 0);
    assert.equal((await a.client.request('GET', '/api/messages/inbox')).body.messages.length, 2);

    // A acks its first only.
    const first = aPage.messages[0].seq;
    assert.deepEqual((await a.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: first })).body, { ok: true, removed: 1 });
    const rest = (await a.client.request('GET', '/api/messages/inbox')).body.messages;
    assert.deepEqual(
      rest.map((x: any) => x.seq),
      [aPage.messages[1].seq],
    );
  });

  test('inbox pages: after/limit, oldest first; bad values are 400 invalid_request', async () => {
    const { node, a, b } = await setup();
    for (let i = 0; i < 5; i++) await node.core.messaging.storeInbound(envelopeFrom(keysOf(a), [recipient(b)], `n${i}`));
    const p1 = (await b.client.request('GET', '/api/messages/inbox?limit=2')).body;
    assert.equal(p1.messages.length, 2);
    const p2 = (await b.client.request('GET', `/api/messages/inbox?after=${p1.next_after}&limit=2`)).body;
    const p3 = (await b.client.request('GET', `/api/messages/inbox?after=${p2.next_after}&limit=2`)).body;
    const p4 = (await b.client.request('GET', `/api/messages/inbox?after=${p3.next_after}`)).body;
    const seqs = [...p1.messages, ...p2.messages, ...p3.messages].map((x: any) => x.seq);
    assert.equal(seqs.length, 5);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => x - y),
    );
    assert.deepEqual(p4, { messages: [], next_after: p3.next_after });
    for (const q of ['limit=0', 'limit=501', 'limit=abc', 'after=-1', 'after=1.5']) {
      const r = await b.client.request('GET', `/api/messages/inbox?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error, 'invalid_request', q);
    }
    const badAck = await b.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: 0 });
    assert.equal(badAck.status, 400);
  });

  test('end to end through the store: a MessagingClient seals, the node routes it to a phone of its own, the recipient opens it', async () => {
    const { node, a, b } = await setup();
    linked(node);
    const alice = new MessagingClient(a.client, keysOf(a));
    const bob = new MessagingClient(b.client, keysOf(b));
    const dir = await alice.directory();
    MessagingDirectory.parse(dir);
    assert.equal(dir.me, a.phone.identity.node_id);
    const sent = await alice.sendText(b.phone.identity.node_id, 'hi bob');
    // Bob's inbox is on this node: stored before the answer, nothing for the cloud.
    assert.equal(sent.status, 'delivered');
    assert.deepEqual(node.core.messaging.pendingOutbound(0, 10), []);
    const page = await bob.inbox();
    assert.equal(page.messages.length, 1);
    const opened = await bob.openItem(page.messages[0]!);
    assert.deepEqual(opened.ok && opened.text, 'hi bob');
    assert.deepEqual(
      (await alice.outbox()).map((m) => [m.status, m.route]),
      [['delivered', 'local']],
    );
  });

  test('an envelope for no device of this node is dropped (resolves, stores nothing)', async () => {
    const { node, a } = await setup();
    const stranger = x25519.utils.randomSecretKey();
    const env = envelopeFrom(keysOf(a), [{ device_id: 'phone-elsewhere', publicKey: x25519.getPublicKey(stranger) }]);
    await node.core.messaging.storeInbound(env);
    assert.equal(node.core.messaging.inboxSize('phone-elsewhere'), 0);
  });
});

describe('directory and local devices', () => {
  test('local phones (and the UI device once registered) plus remote entries; changes are signalled', async () => {
    const node = await startTestNode();
    const m = node.core.messaging;
    let changes = 0;
    m.onLocalDevicesChanged(() => changes++);
    const a = await pairPhone(node);
    await eventually(() => changes >= 1, 'a change after pairing');
    assert.deepEqual(m.localDevices(), [
      { device_id: a.phone.identity.node_id, public_key: a.phone.identity.public_key, name: a.phone.identity.name, kind: 'phone' },
    ]);

    const uiKey = toBase64Url(x25519.getPublicKey(x25519.utils.randomSecretKey()));
    const before = changes;
    const put = await node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: uiKey } });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { device_id: `${node.identity.node_id}.ui` });
    assert.equal(changes, before + 1, 'registering the UI key is a change');
    await node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: uiKey } });
    assert.equal(changes, before + 1, 'the same key again is no change');

    const remote: DirectoryEntry[] = [
      {
        device_id: 'phone-far-away',
        public_key: uiKey,
        name: 'Far phone',
        kind: 'phone',
        node: 'node-far',
        updated_at: new Date().toISOString(),
      },
      // A remote entry with a local id is shown once, as local.
      {
        device_id: a.phone.identity.node_id,
        public_key: uiKey,
        name: 'stale copy',
        kind: 'phone',
        node: 'node-x',
        updated_at: new Date().toISOString(),
      },
    ];
    m.setRemoteDirectory(remote);
    const dir = (await a.client.request('GET', '/api/messages/directory')).body;
    MessagingDirectory.parse(dir);
    assert.equal(dir.me, a.phone.identity.node_id);
    assert.deepEqual(
      dir.devices.map((d: any) => [d.device_id, d.home, d.kind]),
      [
        [a.phone.identity.node_id, 'local', 'phone'],
        [`${node.identity.node_id}.ui`, 'local', 'desktop'],
        ['phone-far-away', 'remote', 'phone'],
      ],
    );
    assert.equal(dir.devices[1].name, node.identity.name);
    assert.equal(dir.devices[0].public_key, a.phone.identity.public_key, 'the local key wins');

    const renamed = changes;
    await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Renamed node' } });
    await eventually(() => changes > renamed, 'a change after the rename (the UI device is named like the node)');
    assert.equal(m.localDevices().find((d) => d.kind === 'desktop')!.name, 'Renamed node');

    const unpaired = changes;
    await node.admin(`/api/mesh/nodes/${a.phone.identity.node_id}`, { method: 'DELETE' });
    await eventually(() => changes > unpaired, 'a change after unpair');
    assert.deepEqual(
      m.localDevices().map((d) => d.kind),
      ['desktop'],
    );
  });
});

describe('the desktop UI as a messaging device (admin API)', () => {
  test('register, send, receive (pushed on the admin socket), ack', async () => {
    const { node, a } = await setup();
    linked(node);
    const uiPriv = x25519.utils.randomSecretKey();
    const ui = { device_id: `${node.identity.node_id}.ui`, privateKey: uiPriv, publicKey: x25519.getPublicKey(uiPriv) };
    const toA = envelopeFrom(ui, [far()]);

    const early = await node.admin('/api/admin/messages', { body: { envelope: toA } });
    assert.equal(early.status, 409, 'no key registered yet');
    assert.equal(early.body.error, 'invalid_request');

    assert.equal(
      (await node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: toBase64Url(ui.publicKey) } })).status,
      200,
    );
    const bad = await node.admin('/api/admin/messages/device', { method: 'PUT', body: { public_key: 'short' } });
    assert.equal(bad.status, 400);

    const dir = await node.admin('/api/admin/messages/directory');
    assert.equal(dir.body.me, ui.device_id);

    const sent = await node.admin('/api/admin/messages', { body: { envelope: toA } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(node.core.messaging.pendingOutbound(0, 10)[0]!.id, toA.id);
    const asPhone = await node.admin('/api/admin/messages', { body: { envelope: envelopeFrom(keysOf(a), [ui]) } });
    assert.equal(asPhone.status, 403);
    assert.equal(asPhone.body.error, 'sender_mismatch');

    const sock = await adminSocket(node);
    node.core.messaging.accepted(toA.id);
    await eventually(
      () => sock.frames.find((f) => f.type === 'message_status' && f.id === toA.id && f.status === 'sent'),
      'status push on the admin socket',
    );
    const toUi = envelopeFrom(keysOf(a), [ui]);
    await node.core.messaging.storeInbound(toUi);
    const push = await eventually(() => sock.frames.find((f) => f.type === 'envelope'), 'envelope push on the admin socket');
    assert.deepEqual(push.envelope, toUi);

    const client = new MessagingClient(
      { request: (method, path, body) => node.admin(path, { method, ...(body !== undefined ? { body } : {}) }) },
      ui,
      '/api/admin/messages',
    );
    const page = await client.inbox();
    assert.equal(page.messages.length, 1);
    const opened = await client.openItem(page.messages[0]!);
    assert.deepEqual(opened.ok && opened.text, 'hello');
    assert.deepEqual(await client.ack(page.next_after), { ok: true, removed: 1 });
    assert.equal((await client.inbox()).messages.length, 0);
    assert.deepEqual(
      (await client.outbox()).map((x) => x.status),
      ['sent'],
    );
    sock.close();
  });
});

describe('durability', () => {
  test('a restarted node keeps its outbox, statuses and inbox', async () => {
    const dataDir = tempDir();
    const node = await startTestNode({ dataDir });
    linked(node);
    const a = await pairPhone(node);
    const b = await pairPhone(node);
    const queued = envelopeFrom(keysOf(a), [far()], 'queued');
    const inbound = envelopeFrom(keysOf(b), [recipient(a)], 'inbound');
    assert.equal((await a.client.request('POST', '/api/messages', { envelope: queued })).status, 202);
    await node.core.messaging.storeInbound(inbound);
    await node.stop();

    const again = await startTestNode({ dataDir });
    assert.deepEqual(
      again.core.messaging.pendingOutbound(0, 10).map((o) => o.id),
      [queued.id],
    );
    const client = new DeviceClient(again.base, a.creds);
    const page = (await client.request('GET', '/api/messages/inbox')).body;
    assert.deepEqual(
      page.messages.map((x: any) => x.envelope),
      [inbound],
    );
    assert.deepEqual(
      (await client.request('GET', '/api/messages/outbox')).body.messages.map((x: any) => [x.id, x.status]),
      [[queued.id, 'queued']],
    );
    // Sequence numbers keep growing after a restart (AUTOINCREMENT): a new send goes after the old one.
    linked(again);
    const later = envelopeFrom(keysOf(a), [far()], 'later');
    assert.equal((await client.request('POST', '/api/messages', { envelope: later })).status, 202);
    assert.deepEqual(
      again.core.messaging.pendingOutbound(0, 10).map((o) => o.id),
      [queued.id, later.id],
    );
  });
});

describe('group commit', () => {
  test('units of one turn share a transaction; a failing unit is rolled back alone', async () => {
    const { default: Database } = await import('better-sqlite3');
    const { GroupCommit } = await import('../../src/main/core/messaging/group-commit.js');
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)');
    const gc = new GroupCommit(db);
    const after: string[] = [];
    const results = await Promise.allSettled([
      gc.run({ work: () => insert.run('a').changes, after: () => after.push('a') }),
      gc.run({
        work: () => {
          insert.run('b');
          throw new Error('boom');
        },
        after: () => after.push('b'),
      }),
      gc.run({ work: () => insert.run('c').changes, after: () => after.push('c') }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(db.prepare('SELECT k FROM t ORDER BY k').all(), [{ k: 'a' }, { k: 'c' }]);
    assert.deepEqual(after, ['a', 'c'], 'after() runs only for committed units');
    assert.equal(db.inTransaction, false);
    db.close();
    await assert.rejects(gc.run({ work: () => 1 }), /not open/, 'a closed database fails the unit');
  });
});
