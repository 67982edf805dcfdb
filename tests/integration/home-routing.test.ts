// The router (src/main/core/routing/router.ts): same-node delivery with no cloud at all, envelopes for a paired
// desktop's devices through the peer link (a fake PeerLinks/HomeDirectory plays the peer-link service; the test
// plays the link itself through PeerLinkRouterPort), 'seen' receipts both ways, the fallback to the cloud when a
// link stays down (a node that believes it is connected; the test reads the cloud's outbox rows itself), the
// messaging directory, and the 0003 migration's backfill of statuses sent before routes existed.

import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { openDatabase } from '../../src/main/core/db/open-database.js';
import type { HomeDirectory, PeerLinks } from '../../src/main/core/routing/ports.js';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { type Envelope, seal } from '../../src/shared/e2ee/index.js';
import { toBase64Url, utf8 } from '../../src/shared/encoding.js';
import { type DirectoryDevice, MessagingDirectory } from '../../src/shared/wire/relay.js';
import { cleanupAll, eventually, pairPhone, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';

after(cleanupAll);

type Paired = Awaited<ReturnType<typeof pairPhone>>;
interface Keys {
  device_id: string;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

const keysOf = (p: Paired): Keys => ({ device_id: p.phone.identity.node_id, privateKey: p.phone.privateKey, publicKey: p.phone.publicKey });
const newKeys = (device_id: string): Keys => {
  const privateKey = x25519.utils.randomSecretKey();
  return { device_id, privateKey, publicKey: x25519.getPublicKey(privateKey) };
};
const asDirectoryDevice = (k: Keys, name: string): DirectoryDevice => ({
  device_id: k.device_id,
  public_key: toBase64Url(k.publicKey),
  name,
  kind: 'phone',
});

function envelopeFrom(from: Keys, to: { device_id: string; publicKey: Uint8Array }[], text = 'hello'): Envelope {
  return seal(utf8.encode(JSON.stringify({ t: 'text', body: text })), {
    from,
    to: [...to].sort((a, b) => (a.device_id < b.device_id ? -1 : 1)),
  });
}

/** A signed device WebSocket that records every frame. */
async function deviceSocket(p: Paired, base?: string) {
  const frames: any[] = [];
  const client = base ? new DeviceClient(base, p.creds) : p.client;
  const ws = new WebSocket(client.webSocketUrl('/api/device/events'));
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await eventually(() => frames.find((f) => f.type === 'hello'), 'the hello frame');
  return {
    frames,
    statuses: (status: string) => frames.filter((f) => f.type === 'message_status' && f.status === status),
    envelopes: () => frames.filter((f) => f.type === 'envelope'),
    close: () => ws.close(),
  };
}

/** Every unacked inbox row of the device, oldest first (paged as a phone does). */
async function readInbox(client: DeviceClient): Promise<{ seq: number; envelope: Envelope }[]> {
  const out: { seq: number; envelope: Envelope }[] = [];
  let after = 0;
  for (;;) {
    const page = (await client.request('GET', `/api/messages/inbox?after=${after}&limit=500`)).body;
    out.push(...page.messages);
    if (page.messages.length === 0) return out;
    after = page.next_after;
  }
}

async function send(client: DeviceClient, envelope: Envelope) {
  const r = await client.request('POST', '/api/messages', { envelope });
  return r;
}

/** The node believes its cloud is linked and connected (nothing drains the cloud's outbox: the test reads it). */
const cloudConnected = (node: TestNode, up = true) => {
  node.core.cloud.configured = () => true;
  node.core.cloud.status = () => (up ? 'connected' : 'reconnecting');
};

/** The peer-link service as the router sees it: links that the test turns up and down, and what each desktop announced. */
class FakePeers implements PeerLinks, HomeDirectory {
  private readonly up = new Set<string>();
  private readonly downAt = new Map<string, number>();
  private readonly desktops = new Map<string, { name: string; devices: DirectoryDevice[] }>();
  private readonly linkFns = new Set<(nodeId: string, up: boolean) => void>();
  private readonly homeFns = new Set<() => void>();

  addDesktop(nodeId: string, name: string, devices: DirectoryDevice[], downSince = 0): void {
    this.desktops.set(nodeId, { name, devices });
    this.downAt.set(nodeId, downSince);
    this.changed();
  }
  setLink(nodeId: string, up: boolean): void {
    if (up) this.up.add(nodeId);
    else {
      this.up.delete(nodeId);
      this.downAt.set(nodeId, Date.now());
    }
    for (const fn of [...this.linkFns]) fn(nodeId, up);
    this.changed();
  }
  changed(): void {
    for (const fn of [...this.homeFns]) fn();
  }
  isUp(nodeId: string) {
    return this.up.has(nodeId);
  }
  downSince(nodeId: string) {
    return this.up.has(nodeId) ? undefined : (this.downAt.get(nodeId) ?? 0);
  }
  onLinkChange(fn: (nodeId: string, up: boolean) => void) {
    this.linkFns.add(fn);
    return () => this.linkFns.delete(fn);
  }
  nodeOf(deviceId: string) {
    for (const [id, d] of this.desktops) if (d.devices.some((x) => x.device_id === deviceId)) return id;
    return undefined;
  }
  nodes() {
    return [...this.desktops].map(([node_id, d]) => ({ node_id, name: d.name, online: this.up.has(node_id), devices: d.devices }));
  }
  onChange(fn: () => void) {
    this.homeFns.add(fn);
    return () => this.homeFns.delete(fn);
  }
}

const B = 'node-living-room';

/** A node with two phones and a paired desktop B (fake peer link, down unless `up`) serving one phone. */
async function homeSetup(
  opts: { up?: boolean; fallbackMs?: number; downSince?: number; caps?: { outboxPerDevice?: number; inboxPerDevice?: number } } = {},
) {
  const node = await startTestNode({
    ...(opts.fallbackMs !== undefined ? { timings: { homeFallbackMs: opts.fallbackMs } } : {}),
    ...(opts.caps ? { messaging: opts.caps } : {}),
  });
  const a = await pairPhone(node);
  const b = await pairPhone(node);
  const peers = new FakePeers();
  const onB = newKeys('phone-on-living-room-pc');
  peers.addDesktop(B, 'Living room PC', [asDirectoryDevice(onB, 'Kitchen phone')], opts.downSince ?? 0);
  node.core.router.attachPeerLinks(peers, peers);
  if (opts.up) peers.setLink(B, true);
  const queuedFor: string[] = [];
  node.core.router.onQueuedForPeer((n) => queuedFor.push(n));
  return { node, a, b, peers, onB, queuedFor, router: node.core.router };
}

const recipientOf = (k: Keys) => ({ device_id: k.device_id, publicKey: k.publicKey });

describe('same-node delivery (no cloud at all)', () => {
  test('300 messages phone to phone: delivered before each 202 (route local), in order, once, pushed; seen after the ack', async () => {
    const node = await startTestNode();
    const a = await pairPhone(node);
    const b = await pairPhone(node);
    const sa = await deviceSocket(a);
    const sb = await deviceSocket(b);
    const envs: Envelope[] = [];
    for (let i = 0; i < 300; i++) {
      const e = envelopeFrom(keysOf(a), [recipientOf(keysOf(b))], `m${i}`);
      const r = await send(a.client, e);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.deepEqual(r.body, { id: e.id, status: 'delivered', route: 'local' });
      envs.push(e);
    }
    const inbox = await readInbox(b.client);
    assert.deepEqual(
      inbox.map((m) => m.envelope.id),
      envs.map((e) => e.id),
      'every one, in send order, once',
    );
    assert.deepEqual(inbox[0]!.envelope, envs[0]);
    await eventually(() => sb.envelopes().length >= 300, '300 pushes on the recipient socket');
    assert.deepEqual(
      sb.envelopes().map((f) => f.envelope.id),
      envs.map((e) => e.id),
      'pushed in order, once each',
    );
    await eventually(() => sa.statuses('delivered').length >= 300, 'delivered pushed to the sender');
    assert.ok(sa.statuses('delivered').every((f) => f.route === 'local'));
    assert.equal(node.core.messaging.outboxSize(), 0, 'nothing waits for a cloud');
    assert.deepEqual(node.core.messaging.pendingOutbound(0, 10), []);

    // The recipient acks half: those become 'seen' for the sender, the rest stay 'delivered'.
    const ack = await b.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: inbox[149]!.seq });
    assert.deepEqual(ack.body, { ok: true, removed: 150 });
    await eventually(() => sa.statuses('seen').length >= 150, 'seen pushed to the sender');
    assert.deepEqual(
      sa.statuses('seen').map((f) => f.id),
      envs.slice(0, 150).map((e) => e.id),
    );
    const outbox = (await a.client.request('GET', '/api/messages/outbox')).body.messages;
    assert.deepEqual(
      outbox.map((m: any) => m.status),
      [...Array(150).fill('seen'), ...Array(150).fill('delivered')],
    );
    assert.ok(outbox.every((m: any) => m.route === 'local'));
    // Seen is the sender's only: the recipient's own outbox shows nothing.
    assert.deepEqual((await b.client.request('GET', '/api/messages/outbox')).body.messages, []);

    // A resend of an acked envelope (the phone lost the answer) is the same answer, and no redelivery.
    const again = await send(a.client, envs[3]!);
    assert.deepEqual(again.body, { id: envs[3]!.id, status: 'seen', route: 'local' });
    assert.equal((await readInbox(b.client)).length, 150);
    // And the other way round, in the same node.
    const back = envelopeFrom(keysOf(b), [recipientOf(keysOf(a))], 'back');
    assert.equal((await send(b.client, back)).body.status, 'delivered');
    assert.deepEqual(
      (await readInbox(a.client)).map((m) => m.envelope.id),
      [back.id],
    );
    sa.close();
    sb.close();
  });

  test('a restart in the middle loses nothing and delivers nothing twice', async () => {
    const dataDir = tempDir();
    let node = await startTestNode({ dataDir });
    const a = await pairPhone(node);
    const b = await pairPhone(node);
    const envs = Array.from({ length: 200 }, (_, i) => envelopeFrom(keysOf(a), [recipientOf(keysOf(b))], `r${i}`));
    for (const e of envs.slice(0, 100)) assert.equal((await send(a.client, e)).status, 202);
    const first = await readInbox(b.client);
    await b.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: first[39]!.seq });
    await node.stop();

    node = await startTestNode({ dataDir });
    const ac = new DeviceClient(node.base, a.creds);
    const bc = new DeviceClient(node.base, b.creds);
    // The new node may listen on the port the old one had: a kept-alive connection to the old one fails once.
    await eventually(
      () =>
        ac.request('GET', '/api/messages/outbox').then(
          (r) => r.status === 200,
          () => false,
        ),
      'the restarted node answers',
    );
    // The phone resends what it is unsure of (one acked, one not): same answers, no second copies.
    assert.deepEqual((await send(ac, envs[10]!)).body, { id: envs[10]!.id, status: 'seen', route: 'local' });
    assert.deepEqual((await send(ac, envs[99]!)).body, { id: envs[99]!.id, status: 'delivered', route: 'local' });
    for (const e of envs.slice(100)) assert.equal((await send(ac, e)).status, 202);
    const rest = await readInbox(bc);
    assert.deepEqual(
      rest.map((m) => m.envelope.id),
      envs.slice(40).map((e) => e.id),
      'the unacked 60, then the new 100, in order, once',
    );
    const statuses = (await ac.request('GET', '/api/messages/outbox')).body.messages.map((m: any) => m.status);
    assert.deepEqual(statuses, [...Array(40).fill('seen'), ...Array(160).fill('delivered')]);
  });

  test('cloud_not_linked only when a recipient is outside the home; then nothing is stored or queued', async () => {
    const { node, a, b, onB, router } = await homeSetup();
    const farAway = newKeys('phone-of-another-home');
    const mixed = envelopeFrom(keysOf(a), [recipientOf(keysOf(b)), recipientOf(farAway)]);
    const r = await send(a.client, mixed);
    assert.equal(r.status, 409);
    assert.equal(r.body.error, 'cloud_not_linked');
    assert.deepEqual(r.body.device_ids, [farAway.device_id]);
    assert.deepEqual(await readInbox(b.client), [], 'the local recipient got nothing either');
    assert.deepEqual((await a.client.request('GET', '/api/messages/outbox')).body.messages, []);
    // A home device (the paired desktop's, its link down) is not refused: it waits for the link.
    const toHome = envelopeFrom(keysOf(a), [recipientOf(onB)]);
    const h = await send(a.client, toHome);
    assert.deepEqual(h.body, { id: toHome.id, status: 'queued' });
    assert.deepEqual(
      router.pendingForPeer(B, 0, 10).map((i) => i.id),
      [toHome.id],
    );
    assert.equal(node.core.messaging.outboxSize(), 0, 'not queued for a cloud');
    // With a cloud configured (even while it is away) the far device is queued for it.
    cloudConnected(node, false);
    const later = envelopeFrom(keysOf(a), [recipientOf(farAway)]);
    assert.equal((await send(a.client, later)).status, 202);
    assert.deepEqual(
      node.core.messaging.pendingOutbound(0, 10).map((o) => o.id),
      [later.id],
    );
  });

  test('the outbox cap counts envelope rows over every destination; a send that queues nothing is never refused by it', async () => {
    const { node, a, b, onB } = await homeSetup({ caps: { outboxPerDevice: 3 } });
    cloudConnected(node, false);
    const far = newKeys('phone-far');
    for (const to of [[onB], [onB], [far]]) assert.equal((await send(a.client, envelopeFrom(keysOf(a), to.map(recipientOf)))).status, 202);
    const full = await send(a.client, envelopeFrom(keysOf(a), [recipientOf(far)]));
    assert.equal(full.status, 429);
    assert.equal(full.body.error, 'outbox_full');
    assert.equal((await send(a.client, envelopeFrom(keysOf(a), [recipientOf(onB)]))).status, 429, 'a peer destination counts too');
    assert.equal((await send(a.client, envelopeFrom(keysOf(a), [recipientOf(keysOf(b))]))).status, 202, 'local only: nothing queued');
  });

  test('a local recipient whose inbox is at its cap: that recipient failed (recipient_backlog_full), the others delivered', async () => {
    const { node, a, b } = await homeSetup({ caps: { inboxPerDevice: 2 } });
    const c = await pairPhone(node);
    for (let i = 0; i < 2; i++) await send(a.client, envelopeFrom(keysOf(a), [recipientOf(keysOf(b))]));
    const e = envelopeFrom(keysOf(a), [recipientOf(keysOf(b)), recipientOf(keysOf(c))]);
    const r = await send(a.client, e);
    assert.equal(r.status, 202);
    assert.equal(r.body.status, 'failed');
    assert.equal((await readInbox(c.client)).length, 1);
    assert.equal((await readInbox(b.client)).length, 2);
    const view = (await a.client.request('GET', '/api/messages/outbox')).body.messages.find((m: any) => m.id === e.id);
    assert.equal(view.error, 'recipient_backlog_full');
  });
});

describe('the peer link (fake service, PeerLinkRouterPort)', () => {
  test('envelopes for a home desktop wait in its outbox in order; an ack makes them delivered (lan), a refusal failed', async () => {
    const { a, b, onB, router, queuedFor } = await homeSetup({ up: true });
    const sa = await deviceSocket(a);
    const envs = Array.from({ length: 5 }, (_, i) => envelopeFrom(keysOf(a), [recipientOf(onB)], `lan${i}`));
    for (const e of envs) assert.deepEqual((await send(a.client, e)).body, { id: e.id, status: 'queued' });
    assert.ok(queuedFor.filter((n) => n === B).length >= 5, 'the link is woken for each');
    const items = router.pendingForPeer(B, 0, 100);
    assert.deepEqual(
      items.map((i) => [i.kind, i.id]),
      envs.map((e) => ['envelope', e.id]),
      'in send order',
    );
    assert.deepEqual(
      items.map((i) => i.seq),
      [...items.map((i) => i.seq)].sort((x, y) => x - y),
    );
    assert.deepEqual(JSON.parse((items[0] as { json: string }).json), envs[0]);
    assert.deepEqual(
      router.pendingForPeer(B, items[2]!.seq, 100).map((i) => i.id),
      envs.slice(3).map((e) => e.id),
      'afterSeq pages',
    );
    assert.deepEqual(router.pendingForPeer('node-somebody-else', 0, 100), [], 'per destination');

    await router.peerAcked(B, items[0]!);
    await eventually(() => sa.statuses('delivered').find((f) => f.id === envs[0]!.id), 'delivered pushed');
    assert.equal(sa.statuses('delivered').find((f) => f.id === envs[0]!.id).route, 'lan');
    await router.peerAcked(B, items[0]!); // a resend after a reconnect is acked twice
    await router.peerAcked('node-somebody-else', items[1]!); // another peer cannot ack B's rows
    await router.peerAcked(B, items[1]!, { device_ids: [onB.device_id], error: 'recipient_backlog_full' });
    const outbox = (await a.client.request('GET', '/api/messages/outbox')).body.messages;
    assert.deepEqual(
      outbox.map((m: any) => [m.status, m.route ?? null, m.error ?? null]),
      [
        ['delivered', 'lan', null],
        ['failed', null, 'recipient_backlog_full'],
        ['queued', null, null],
        ['queued', null, null],
        ['queued', null, null],
      ],
    );
    assert.equal(sa.statuses('delivered').filter((f) => f.id === envs[0]!.id).length, 1, 'the second ack changed nothing');
    assert.deepEqual(
      router.pendingForPeer(B, 0, 100).map((i) => i.id),
      envs.slice(2).map((e) => e.id),
    );

    // One envelope to a local phone and the home phone: delivered locally at once, then by the LAN.
    const both = envelopeFrom(keysOf(a), [recipientOf(keysOf(b)), recipientOf(onB)]);
    assert.deepEqual((await send(a.client, both)).body, { id: both.id, status: 'queued', route: 'local' });
    assert.equal((await readInbox(b.client)).length, 1);
    const row = router.pendingForPeer(B, 0, 100).find((i) => i.id === both.id)!;
    await router.peerAcked(B, row);
    const view = (await a.client.request('GET', '/api/messages/outbox')).body.messages.find((m: any) => m.id === both.id);
    assert.deepEqual([view.status, view.route], ['delivered', 'lan']);
    sa.close();
  });

  test('an envelope from the peer: stored once (also when sent again), origin recorded, pushed; the ack queues a seen receipt for that peer', async () => {
    const { node, a, b, onB, router, queuedFor } = await homeSetup({ up: true });
    const sb = await deviceSocket(b);
    const fromB = envelopeFrom(onB, [recipientOf(keysOf(a)), recipientOf(keysOf(b))], 'from the living room');
    assert.deepEqual(await router.storeFromPeer(B, fromB), { refused: [] });
    assert.deepEqual(await router.storeFromPeer(B, fromB), { refused: [] });
    await Promise.all([router.storeFromPeer(B, fromB), router.storeFromPeer(B, fromB)]);
    const aInbox = await readInbox(a.client);
    assert.deepEqual(
      aInbox.map((m) => m.envelope),
      [fromB],
      'once per device',
    );
    await eventually(() => sb.envelopes().length === 1, 'pushed to the recipient');
    const db = new Database(join(node.dataDir, 'salita.db'), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT to_device, origin, from_device FROM inbox WHERE envelope_id = ? ORDER BY to_device')
        .all(fromB.id) as any[];
      assert.deepEqual(
        rows.map((r) => [r.origin, r.from_device]),
        [
          [B, onB.device_id],
          [B, onB.device_id],
        ],
      );
    } finally {
      db.close();
    }

    // A reads and acks: a 'seen' receipt for B names A; then B's phone acks too: one receipt naming both.
    const before = queuedFor.length;
    await a.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: aInbox[0]!.seq });
    assert.ok(queuedFor.length > before && queuedFor.at(-1) === B, 'the link is woken for the receipt');
    const seen1 = router.pendingForPeer(B, 0, 10);
    assert.deepEqual(
      seen1.map((i) => i.kind === 'seen' && [i.id, i.deviceIds]),
      [[fromB.id, [a.phone.identity.node_id]]],
    );
    const bInbox = await readInbox(b.client);
    await b.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: bInbox[0]!.seq });
    const seen2 = router.pendingForPeer(B, 0, 10);
    assert.equal(seen2.length, 1, 'one receipt per envelope');
    assert.deepEqual(
      seen2[0]!.kind === 'seen' && [...seen2[0]!.deviceIds].sort(),
      [a.phone.identity.node_id, b.phone.identity.node_id].sort(),
    );
    assert.ok(seen2[0]!.seq > seen1[0]!.seq, 'the grown receipt has a new seq, so a link that sent the first sends it too');
    await router.peerAcked(B, seen1[0]!); // the ack of the old one removes nothing
    assert.equal(router.pendingForPeer(B, 0, 10).length, 1);
    await router.peerAcked(B, seen2[0]!);
    assert.deepEqual(router.pendingForPeer(B, 0, 10), []);

    // The peer redelivers after both acked (a crash before its ack reached us): the tombstones absorb it.
    await router.storeFromPeer(B, fromB);
    assert.deepEqual(await readInbox(a.client), []);
    assert.deepEqual(router.pendingForPeer(B, 0, 10), [], 'and no second receipt');
    // An envelope from the cloud is acked without any receipt.
    const viaCloud = envelopeFrom(onB, [recipientOf(keysOf(a))], 'via the cloud');
    await node.core.messaging.storeInbound(viaCloud);
    const page = await readInbox(a.client);
    await a.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: page[0]!.seq });
    assert.deepEqual(router.pendingForPeer(B, 0, 10), [], 'the cloud route carries no seen');
    sb.close();
  });

  test('a seen frame from the peer makes its recipients seen; one from another peer, or for devices it does not serve, changes nothing', async () => {
    const { node, a, b, onB, peers, router } = await homeSetup({ up: true });
    const otherDesk = newKeys('phone-on-study-pc');
    peers.addDesktop('node-study', 'Study PC', [asDirectoryDevice(otherDesk, 'Study phone')]);
    const sa = await deviceSocket(a);
    const e = envelopeFrom(keysOf(a), [recipientOf(onB), recipientOf(keysOf(b))]);
    await send(a.client, e);
    await router.peerAcked(B, router.pendingForPeer(B, 0, 10)[0]!);
    const bInbox = await readInbox(b.client);
    await b.client.request('POST', '/api/messages/inbox/ack', { up_to_seq: bInbox[0]!.seq });
    const statusOf = async () => (await a.client.request('GET', '/api/messages/outbox')).body.messages.find((m: any) => m.id === e.id);
    assert.equal((await statusOf()).status, 'delivered', 'the local one is seen, the home one only delivered');

    await router.seenFromPeer('node-study', e.id, [onB.device_id]); // not the desktop that serves it
    await router.seenFromPeer(B, e.id, [b.phone.identity.node_id]); // a device of ours, not B's
    assert.equal((await statusOf()).status, 'delivered');
    assert.equal(sa.statuses('seen').length, 0);

    await router.seenFromPeer(B, e.id, [onB.device_id]);
    const s = await statusOf();
    assert.deepEqual([s.status, s.route], ['seen', 'lan']);
    await eventually(() => sa.statuses('seen').find((f) => f.id === e.id), 'seen pushed');
    void node;
    sa.close();
  });
});

describe('fallback to the cloud', () => {
  test('a link down for longer than homeFallbackMs with a connected cloud that knows the device: the envelope moves to the cloud; back on the LAN when the link returns', async () => {
    const { node, a, onB, peers, router } = await homeSetup({ fallbackMs: 400 });
    peers.setLink(B, false); // down from now on (setting up took longer than the fallback delay may)
    cloudConnected(node);
    const m = node.core.messaging;
    m.setRemoteDirectory([
      { ...asDirectoryDevice(onB, 'Kitchen phone'), node: 'key-of-the-living-room-pc', updated_at: new Date().toISOString() },
    ]);
    const sa = await deviceSocket(a);
    const e1 = envelopeFrom(keysOf(a), [recipientOf(onB)], 'while the link is down');
    const r1 = await send(a.client, e1);
    assert.deepEqual(r1.body, { id: e1.id, status: 'queued' });
    const peerRow = router.pendingForPeer(B, 0, 10);
    assert.deepEqual(
      peerRow.map((i) => i.id),
      [e1.id],
      'first it waits for the LAN',
    );
    assert.deepEqual(m.pendingOutbound(0, 10), []);
    const moved = await eventually(() => m.pendingOutbound(0, 10).find((o) => o.id === e1.id), 'moved to the cloud', 10_000);
    assert.ok(moved.seq > peerRow[0]!.seq, "a new seq, past the cloud link's cursor");
    assert.deepEqual(router.pendingForPeer(B, 0, 10), [], 'the peer row is gone (one transaction)');
    assert.deepEqual(moved.envelope, e1);
    assert.equal(m.outboxSize(), 1);
    // A link ack of the old row now (it was in flight when it moved) is ignored; the cloud's answers count.
    await router.peerAcked(B, peerRow[0]!);
    m.accepted(e1.id);
    await eventually(() => sa.statuses('sent').find((f) => f.id === e1.id && f.route === 'cloud'), 'sent through the cloud');
    await m.delivered(e1.id, [onB.device_id]);
    const view = (await a.client.request('GET', '/api/messages/outbox')).body.messages[0];
    assert.deepEqual([view.status, view.route], ['delivered', 'cloud']);

    // Still down: a new envelope goes to the cloud at once.
    const e2 = envelopeFrom(keysOf(a), [recipientOf(onB)], 'still down');
    await send(a.client, e2);
    assert.ok(m.pendingOutbound(0, 10).some((o) => o.id === e2.id));
    assert.deepEqual(router.pendingForPeer(B, 0, 10), []);

    // The link returns: new envelopes go by the LAN again.
    peers.setLink(B, true);
    const e3 = envelopeFrom(keysOf(a), [recipientOf(onB)], 'link is back');
    await send(a.client, e3);
    assert.deepEqual(
      router.pendingForPeer(B, 0, 10).map((i) => i.id),
      [e3.id],
    );
    assert.ok(!m.pendingOutbound(0, 10).some((o) => o.id === e3.id));
    sa.close();
  });

  test('no fallback while the cloud is not connected, or does not know the recipient', async () => {
    const { node, a, onB, router } = await homeSetup({ fallbackMs: 100, downSince: 0 });
    const m = node.core.messaging;
    cloudConnected(node, false);
    m.setRemoteDirectory([{ ...asDirectoryDevice(onB, 'Kitchen phone'), node: 'key-b', updated_at: new Date().toISOString() }]);
    const e = envelopeFrom(keysOf(a), [recipientOf(onB)]);
    await send(a.client, e);
    await new Promise((r) => setTimeout(r, 400)); // several fallback ticks
    assert.deepEqual(
      router.pendingForPeer(B, 0, 10).map((i) => i.id),
      [e.id],
      'the cloud is away: it waits for either',
    );
    // Connected, but the cloud's directory does not list the device.
    m.setRemoteDirectory([]);
    cloudConnected(node, true);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(
      router.pendingForPeer(B, 0, 10).map((i) => i.id),
      [e.id],
      'the cloud does not know it: it waits for the LAN',
    );
    assert.deepEqual(m.pendingOutbound(0, 10), []);
    // Once the directory lists it, it moves.
    m.setRemoteDirectory([{ ...asDirectoryDevice(onB, 'Kitchen phone'), node: 'key-b', updated_at: new Date().toISOString() }]);
    await eventually(() => m.pendingOutbound(0, 10).some((o) => o.id === e.id), 'moved once the cloud knows it');
  });
});

describe('the messaging directory', () => {
  test("local, home (announced, or listed by the cloud under a home desktop's key) and remote devices, each with its route now; nodes", async () => {
    const { node, a, onB, peers } = await homeSetup();
    const keyB = toBase64Url(x25519.getPublicKey(x25519.utils.randomSecretKey()));
    const db = new Database(join(node.dataDir, 'salita.db'));
    try {
      db.prepare("INSERT INTO mesh_nodes (id, name, kind, created_at, public_key, is_current) VALUES (?, ?, 'desktop', ?, ?, 0)").run(
        B,
        'Living room PC',
        new Date().toISOString(),
        keyB,
      );
    } finally {
      db.close();
    }
    peers.changed();
    const viaCloudOnly = newKeys('phone-published-by-b-only');
    const far = newKeys('phone-far-away');
    const at = new Date().toISOString();
    node.core.messaging.setRemoteDirectory([
      { ...asDirectoryDevice(onB, 'Kitchen phone (cloud copy)'), node: keyB, updated_at: at },
      { ...asDirectoryDevice(viaCloudOnly, 'Tablet'), node: keyB, updated_at: at },
      { ...asDirectoryDevice(far, 'Far phone'), node: 'key-of-another-home', updated_at: at },
    ]);
    const get = async () => MessagingDirectory.parse((await a.client.request('GET', '/api/messages/directory')).body);

    let dir = await get();
    const row = (id: string) => dir.devices.find((d) => d.device_id === id);
    assert.equal(dir.devices.filter((d) => d.device_id === onB.device_id).length, 1, 'no duplicates');
    assert.deepEqual(
      dir.devices.map((d) => [d.device_id, d.home, d.node_id ?? null, d.route ?? null]),
      [
        [a.phone.identity.node_id, 'local', node.identity.node_id, 'local'],
        [dir.devices[1]!.device_id, 'local', node.identity.node_id, 'local'],
        [onB.device_id, 'home', B, null],
        [viaCloudOnly.device_id, 'home', B, null],
        [far.device_id, 'remote', 'key-of-another-home', null],
      ],
    );
    assert.equal(row(onB.device_id)!.name, 'Kitchen phone', "the link's announcement wins");
    assert.equal(row(onB.device_id)!.node_name, 'Living room PC');
    assert.deepEqual(dir.nodes, [
      { node_id: node.identity.node_id, name: node.identity.name, self: true, online: true },
      { node_id: B, name: 'Living room PC', self: false, online: false },
    ]);

    cloudConnected(node);
    dir = await get();
    assert.deepEqual(
      [row(onB.device_id)!.route, row(viaCloudOnly.device_id)!.route, row(far.device_id)!.route],
      ['cloud', 'cloud', 'cloud'],
    );
    peers.setLink(B, true);
    dir = await get();
    assert.deepEqual([row(onB.device_id)!.route, row(viaCloudOnly.device_id)!.route, row(far.device_id)!.route], ['lan', 'lan', 'cloud']);
    assert.equal(dir.nodes[1]!.online, true);
    assert.equal(dir.cloud.status, 'connected');

    // A device the cloud lists under the home desktop's key is routed to that desktop too.
    const e = envelopeFrom(keysOf(a), [recipientOf(viaCloudOnly)]);
    await send(a.client, e);
    assert.deepEqual(
      node.core.router.pendingForPeer(B, 0, 10).map((i) => i.id),
      [e.id],
    );
    // The admin directory (the desktop UI) sees the same home.
    const adminDir = MessagingDirectory.parse((await node.admin('/api/admin/messages/directory')).body);
    assert.deepEqual(
      adminDir.nodes.map((n) => n.node_id),
      [node.identity.node_id, B],
    );
  });
});

describe('the 0003 migration', () => {
  test('statuses sent before routes existed get one recipient row each (destination cloud), routes, and inbox origins', async () => {
    const dataDir = tempDir();
    // A database as the previous release left it: migrations up to 0002 only.
    const oldMigrations = tempDir('salita-migrations-');
    const shipped = join(process.cwd(), 'migrations');
    mkdirSync(join(oldMigrations, 'meta'), { recursive: true });
    for (const f of ['0000_init.sql', '0001_messaging.sql', '0002_inbox_tombstones.sql']) cpSync(join(shipped, f), join(oldMigrations, f));
    for (const f of ['0000_snapshot.json', '0001_snapshot.json', '0002_snapshot.json'])
      cpSync(join(shipped, 'meta', f), join(oldMigrations, 'meta', f));
    const journal = JSON.parse(readFileSync(join(shipped, 'meta', '_journal.json'), 'utf8'));
    journal.entries = journal.entries.filter((e: { idx: number }) => e.idx <= 2);
    writeFileSync(join(oldMigrations, 'meta', '_journal.json'), JSON.stringify(journal));
    process.env.SALITA_MIGRATIONS_DIR = oldMigrations;
    let old: ReturnType<typeof openDatabase>;
    try {
      old = openDatabase(dataDir);
    } finally {
      delete process.env.SALITA_MIGRATIONS_DIR;
    }
    const sender = 'phone-old-sender';
    const at = new Date().toISOString();
    const ids = {
      queued: '0190a000-0000-7000-8000-000000000001',
      sent: '0190a000-0000-7000-8000-000000000002',
      delivered: '0190a000-0000-7000-8000-000000000003',
      failed: '0190a000-0000-7000-8000-000000000004',
    };
    const ins = old.sqlite.prepare(
      'INSERT INTO sent_messages (envelope_id, from_device, "to", body_hash, status, error, created_at, updated_at) VALUES (?, ?, ?, \'h\', ?, ?, ?, ?)',
    );
    for (const [status, id] of Object.entries(ids))
      ins.run(id, sender, JSON.stringify(['phone-x', 'phone-y']), status, status === 'failed' ? 'unknown_recipient' : null, at, at);
    old.sqlite
      .prepare('INSERT INTO outbox (envelope_id, from_device, body, created_at) VALUES (?, ?, ?, ?)')
      .run(ids.queued, sender, '{"id":"x"}', at);
    old.sqlite
      .prepare('INSERT INTO inbox (envelope_id, to_device, body, received_at) VALUES (?, ?, ?, ?)')
      .run('0190a000-0000-7000-8000-000000000009', 'phone-z', JSON.stringify({ from_device: 'phone-far' }), at);
    old.close();

    const node = await startTestNode({ dataDir });
    assert.deepEqual(
      node.core.messaging.outboxFor(sender).map((m) => [m.id, m.status, m.route ?? null]),
      [
        [ids.queued, 'queued', null],
        [ids.sent, 'sent', 'cloud'],
        [ids.delivered, 'delivered', 'cloud'],
        [ids.failed, 'failed', null],
      ],
    );
    assert.deepEqual(
      node.core.messaging.pendingOutbound(0, 10).map((o) => o.id),
      [ids.queued],
      "the old outbox row is the cloud's",
    );
    assert.equal(node.core.messaging.outboxSize(), 1);
    // The backfilled recipient rows carry the statuses on: the cloud's receipt moves the sent one to delivered.
    await node.core.messaging.delivered(ids.sent, ['phone-x', 'phone-y']);
    node.core.messaging.accepted(ids.queued);
    await eventually(() => node.core.messaging.outboxFor(sender)[0]!.status === 'sent', 'accepted');
    assert.deepEqual(
      node.core.messaging.outboxFor(sender).map((m) => m.status),
      ['sent', 'delivered', 'delivered', 'failed'],
    );
    await node.stop();
    const db = new Database(join(dataDir, 'salita.db'), { readonly: true });
    try {
      assert.equal((db.prepare('SELECT count(*) AS n FROM sent_recipients').get() as any).n, 8);
      assert.deepEqual(db.prepare('SELECT origin, from_device FROM inbox').get(), { origin: 'cloud', from_device: 'phone-far' });
    } finally {
      db.close();
    }
  });
});
