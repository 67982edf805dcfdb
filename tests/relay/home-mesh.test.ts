// The home mesh with no cloud at all, with real processes: two built headless desktops (A and B, each its own
// process on loopback), paired with each other, phones paired with each. Messages go phone -> node -> phone on
// one desktop, and A-phone -> A -> peer link -> B -> B-phone and back; B is SIGKILLed in the middle of a stream
// and restarted on its data dir; a rename on B reaches A's phones; an unpair on A reaches B.
// Nothing here asserts speed: every wait has a generous limit.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OpenedMessage } from '../../src/shared/client/messaging-client.js';
import type { Envelope } from '../../src/shared/e2ee/index.js';
import { cleanupAll, eventually } from '../helpers/test-node.js';
import {
  assertExactlyOnceInOrder,
  deviceSocket,
  entryOf,
  pairDesktops,
  sealBetween,
  waitHomeDevice,
  waitNodeOnline,
  waitOutbox,
} from './home-mesh-helpers.js';
import { type NodeProcess, type PairedPhone, pairPhoneWith, requireBuild, startNodeProcess } from './processes.js';
import { LINK_WAIT_MS, receive } from './relay-helpers.js';

/** Link closes a busy but honest peer must never see (each side logs why it closed, at info level). */
const FLOOD_CLOSE = /queue_full|window_exceeded|"flood"/;
const nodeOpts = (label: string) => ({ label, logLevel: 'info', watchStderr: FLOOD_CLOSE });

describe('home mesh without a cloud (real processes)', { timeout: 900_000 }, () => {
  let A: NodeProcess;
  let B: NodeProcess;
  let phoneA: PairedPhone;
  let phoneA2: PairedPhone;
  let phoneB: PairedPhone;
  const a = () => phoneA.messaging(A.base);
  const b = () => phoneB.messaging(B.base);

  before(async () => {
    requireBuild();
    [A, B] = await Promise.all([startNodeProcess(nodeOpts('node A')), startNodeProcess(nodeOpts('node B'))]);
    phoneA = await pairPhoneWith(A, 'Anna phone');
    phoneA2 = await pairPhoneWith(A, 'Anna tablet');
    phoneB = await pairPhoneWith(B, 'Bo phone');
    await pairDesktops(A, B);
  });

  after(async () => {
    await Promise.all([A?.stop(), B?.stop()]);
    await cleanupAll();
  });

  it('phone -> phone on one desktop: 300 messages with no cloud, pushed, exactly once, in order, then "seen"', async () => {
    const from = a();
    const to = phoneA2.messaging(A.base);
    const sock = await deviceSocket(phoneA2, A.base);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) {
        const r = await from.sendText(phoneA2.deviceId, `local-${i}`);
        assert.equal(r.route, 'local', JSON.stringify(r));
        assert.equal(r.status, 'delivered', `a local recipient has it before the 202: ${JSON.stringify(r)}`);
        ids.push(r.id);
      }
      await eventually(
        () => sock.frames.filter((f) => f.type === 'envelope').length >= 300,
        "all 300 pushed to the recipient's socket",
        LINK_WAIT_MS,
      );
      assert.deepEqual(
        sock.frames.filter((f) => f.type === 'envelope').map((f) => f.envelope.id),
        ids,
        'pushed once each, in order',
      );
      const got = await receive(to, 300);
      assertExactlyOnceInOrder(got, ids, 'same-node inbox');
      assert.deepEqual(
        got.map((m) => (m.ok ? m.text : m.error)),
        ids.map((_, i) => `local-${i}`),
      );
      await waitOutbox(
        from,
        ids,
        (m) => m.status === 'seen' && m.route === 'local',
        'every message "seen" (route local) after the recipient acked',
      );
    } finally {
      sock.close();
    }
  });

  it('the home directory: each phone sees the other desktop\'s phone as "home", under that desktop, reachable over the LAN', async () => {
    const ea = await waitHomeDevice(a(), phoneB.deviceId, B.nodeId, 'lan', 'A-phone to see B-phone in the home, route lan');
    const eb = await waitHomeDevice(b(), phoneA.deviceId, A.nodeId, 'lan', 'B-phone to see A-phone in the home, route lan');
    assert.equal(ea.name, 'Bo phone');
    assert.equal(eb.name, 'Anna phone');
    assert.equal(ea.public_key, phoneB.phone.identity.public_key, "B-phone's key as B announced it");
    const dir = await a().directory(true);
    assert.equal(dir.cloud.status, 'not_configured');
    assert.deepEqual(
      dir.nodes.map((n) => [n.node_id, n.self, n.online]),
      [
        [A.nodeId, true, true],
        [B.nodeId, false, true],
      ],
    );
  });

  it('A-phone -> B-phone over the peer link: pushed to B-phone, "delivered" (route lan), then "seen" once B-phone acks; and back', async () => {
    await waitHomeDevice(a(), phoneB.deviceId, B.nodeId, 'lan', 'B-phone reachable over the LAN');
    await waitHomeDevice(b(), phoneA.deviceId, A.nodeId, 'lan', 'A-phone reachable over the LAN');
    const sockA = await deviceSocket(phoneA, A.base);
    const sockB = await deviceSocket(phoneB, B.base);
    try {
      const sent = await a().sendText(phoneB.deviceId, 'Hei Bo, middag klokka sju?');
      assert.notEqual(sent.status, 'failed', JSON.stringify(sent));
      await eventually(
        () => sockB.frames.some((f) => f.type === 'envelope' && f.envelope.id === sent.id),
        "B-phone's socket to get the envelope",
        LINK_WAIT_MS,
      );
      const delivered = await waitOutbox(
        a(),
        [sent.id],
        (m) => m.status === 'delivered' || m.status === 'seen',
        'A-phone sees "delivered"',
      );
      // B-phone has not acked anything yet: it cannot be "seen".
      assert.equal(delivered.get(sent.id)!.status, 'delivered');
      assert.equal(delivered.get(sent.id)!.route, 'lan');

      const [msg] = await receive(b(), 1); // reads and acks, as the phone page does
      assert.ok(
        msg?.ok && msg.text === 'Hei Bo, middag klokka sju?' && msg.id === sent.id && msg.from_device === phoneA.deviceId,
        JSON.stringify(msg),
      );
      const seen = await waitOutbox(a(), [sent.id], (m) => m.status === 'seen', 'A-phone sees "seen" after B-phone acked');
      assert.equal(seen.get(sent.id)!.route, 'lan');
      await eventually(
        () => sockA.frames.some((f) => f.type === 'message_status' && f.id === sent.id && f.status === 'seen'),
        'the "seen" push on A-phone\'s socket',
        LINK_WAIT_MS,
      );
      const pushes = sockA.frames
        .filter((f) => f.type === 'message_status' && f.id === sent.id)
        .map((f) => `${f.status}/${f.route ?? '-'}`);
      assert.deepEqual(
        pushes.filter((p) => p.startsWith('delivered') || p.startsWith('seen')),
        ['delivered/lan', 'seen/lan'],
        `pushes to A-phone: ${pushes}`,
      );

      // And back, 50 each way at once: each side gets the other's stream once, in order.
      const envA: Envelope[] = [];
      const envB: Envelope[] = [];
      for (let i = 0; i < 50; i++) {
        envA.push(await a().sealText(phoneB.deviceId, `a2b-${i}`));
        envB.push(await b().sealText(phoneA.deviceId, `b2a-${i}`));
      }
      const fromA = a();
      const fromB = b();
      await Promise.all([
        (async () => {
          for (const e of envA) await fromA.sendEnvelope(e);
        })(),
        (async () => {
          for (const e of envB) await fromB.sendEnvelope(e);
        })(),
      ]);
      const [atB, atA] = await Promise.all([receive(b(), 50), receive(a(), 50)]);
      assertExactlyOnceInOrder(
        atB,
        envA.map((e) => e.id),
        'A -> B',
      );
      assertExactlyOnceInOrder(
        atA,
        envB.map((e) => e.id),
        'B -> A',
      );
      await waitOutbox(
        a(),
        envA.map((e) => e.id),
        (m) => m.status === 'seen' && m.route === 'lan',
        "A's 50 seen, route lan",
      );
      await waitOutbox(
        b(),
        envB.map((e) => e.id),
        (m) => m.status === 'seen' && m.route === 'lan',
        "B's 50 seen, route lan",
      );
    } finally {
      sockA.close();
      sockB.close();
    }
  });

  it('B is SIGKILLed in the middle of a stream from A-phone and restarted on its data dir: nothing lost, nothing twice, in order', async () => {
    const N = 300;
    const sealer = a();
    await waitHomeDevice(sealer, phoneB.deviceId, B.nodeId, 'lan', 'B-phone reachable over the LAN');
    const envelopes: Envelope[] = [];
    for (let i = 0; i < N; i++) envelopes.push(await sealer.sealText(phoneB.deviceId, `killB-${i}`));
    const got: OpenedMessage[] = [];
    for (let i = 0; i < N; i++) {
      if (i === N / 4) {
        // Let some reach B-phone first, so the kill lands while B is storing and acking what A streams.
        got.push(...(await receive(b(), 1)));
        await B.kill9();
      }
      const r = await sealer.sendEnvelope(envelopes[i]!);
      assert.notEqual(r.status, 'failed', JSON.stringify(r));
    }
    B = await startNodeProcess({ ...nodeOpts('node B (restarted)'), dataDir: B.dataDir, port: B.port });
    got.push(...(await receive(b(), N - got.length)));
    // A last look: nothing more trickles in after the count was reached (a second copy would).
    await waitOutbox(
      a(),
      envelopes.map((e) => e.id),
      (m) => m.status === 'seen',
      `all ${N} "seen" after B's restart`,
    );
    got.push(
      ...(await b().inbox(0, 500)).messages.map((item) => ({
        ok: true as const,
        seq: item.seq,
        id: item.envelope.id,
        from_device: item.envelope.from_device,
        sent_at: item.envelope.sent_at,
        text: '',
      })),
    );
    assertExactlyOnceInOrder(
      got,
      envelopes.map((e) => e.id),
      'across SIGKILL of B',
    );
  });

  it('a stream while B-phone reads and acks as it goes ("seen" flowing back): once, in order, and the link is never closed as a flood', async () => {
    const N = 450; // the outbox view lists a device's newest 500 messages
    const sealer = a();
    await waitHomeDevice(sealer, phoneB.deviceId, B.nodeId, 'lan', 'B-phone reachable over the LAN');
    const envelopes: Envelope[] = [];
    for (let i = 0; i < N; i++) envelopes.push(sealBetween(phoneA, phoneB, `stream-${i}`));
    // B-phone reads and acks as the messages come while A-phone streams, 16 sends in flight: envelopes one way,
    // acks and seen frames the other, as much as both windows allow.
    const reading = receive(b(), N);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < envelopes.length) await sealer.sendEnvelope(envelopes[next++]!);
      }),
    );
    const got = await reading;
    const rows = await waitOutbox(
      a(),
      envelopes.map((e) => e.id),
      (m) => m.status === 'seen' && m.route === 'lan',
      `all ${N} seen`,
    );
    // With sends in flight together, the order is the order A accepted them: its outbox view, oldest first.
    const accepted = [...rows.keys()].filter((id) => envelopes.some((e) => e.id === id));
    assertExactlyOnceInOrder(got, accepted, 'stream with acks flowing back');
    assert.deepEqual([...A.proc.watched, ...B.proc.watched].slice(0, 5), [], 'an honest peer under load was closed as a flood');
  });

  it('both desktops come back with a backlog for each other (envelopes one way, "seen" receipts the other): all of it gets through and the link is never closed as a flood', async () => {
    // Each side ends up with N frames for the other: more than a window's worth of frames waiting on each side
    // once acks are counted (N data frames + N acks), and 2N within the outbox view's newest 500.
    const N = 200;
    await waitHomeDevice(a(), phoneB.deviceId, B.nodeId, 'lan', 'B-phone reachable over the LAN');
    // 1. N messages reach B-phone's inbox; B-phone does not read them yet.
    const first = Array.from({ length: N }, (_, i) => sealBetween(phoneA, phoneB, `backlog-1-${i}`));
    for (const e of first) await a().sendEnvelope(e);
    await waitOutbox(
      a(),
      first.map((e) => e.id),
      (m) => m.status === 'delivered',
      `the first ${N} delivered to B`,
    );
    // 2. A goes away; B-phone reads and acks them all: B now holds N "seen" receipts for A.
    await A.stop();
    assertExactlyOnceInOrder(
      await receive(b(), N),
      first.map((e) => e.id),
      'first batch',
    );
    // 3. B goes away, A comes back; A-phone sends N more: A now holds N envelopes for B.
    await B.stop();
    A = await startNodeProcess({ ...nodeOpts('node A (back)'), dataDir: A.dataDir, port: A.port });
    const second = Array.from({ length: N }, (_, i) => sealBetween(phoneA, phoneB, `backlog-2-${i}`));
    for (const e of second) await a().sendEnvelope(e);
    // 4. B comes back: each side pumps a full window at the other at once, and acks the other's frames.
    B = await startNodeProcess({ ...nodeOpts('node B (back)'), dataDir: B.dataDir, port: B.port });
    assertExactlyOnceInOrder(
      await receive(b(), N),
      second.map((e) => e.id),
      'second batch',
    );
    await waitOutbox(
      a(),
      [...first, ...second].map((e) => e.id),
      (m) => m.status === 'seen' && m.route === 'lan',
      `all ${2 * N} seen`,
    );
    assert.deepEqual([...A.proc.watched, ...B.proc.watched].slice(0, 5), [], 'an honest peer with a backlog was closed as a flood');
  });

  it("a rename of B reaches A's phones: the directory shows B's phones under B's new name", async () => {
    const r = await B.admin('/api/node/identity', { name: 'Living room PC' }, 'PATCH');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    let last: unknown;
    await eventually(
      async () => {
        const dir = await a().directory(true);
        const e = entryOf(dir, phoneB.deviceId);
        last = { e, nodes: dir.nodes };
        return e?.node_name === 'Living room PC' && dir.nodes.find((n) => n.node_id === B.nodeId)?.name === 'Living room PC';
      },
      "B's new name in A-phone's directory",
      LINK_WAIT_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen: ${JSON.stringify(last)}`);
    });
  });

  it('an unpair on A reaches B: B marks the pairing as ended by A, and neither side routes to the other any more', async () => {
    await waitNodeOnline(a(), B.nodeId, true, 'the link up before the unpair');
    const r = await A.admin(`/api/mesh/nodes/${encodeURIComponent(B.nodeId)}`, undefined, 'DELETE');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    let last: unknown;
    const row = await eventually(
      async () => {
        const s = await B.admin('/api/admin/state');
        const d = (s.body.devices as any[]).find((x) => x.node_id === A.nodeId);
        last = d;
        return d?.ended_by_peer_at ? d : undefined;
      },
      "B's row for A to show ended_by_peer_at",
      LINK_WAIT_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; B's row for A: ${JSON.stringify(last)}`);
    });
    assert.ok(!Number.isNaN(Date.parse(row.ended_by_peer_at)), JSON.stringify(row));
    // B's phones no longer see A as part of the home, and with no cloud there is no route to A-phone at all.
    await eventually(
      async () => !(await b().directory(true)).nodes.some((n) => n.node_id === A.nodeId),
      "A gone from B-phone's home nodes",
      LINK_WAIT_MS,
    );
    await assert.rejects(
      b().sendEnvelope(sealBetween(phoneB, phoneA, 'still there?')),
      (err: { status?: number; code?: string }) => err.status === 409 && err.code === 'cloud_not_linked',
    );
    // And A: B is not in its devices any more, so A-phone cannot write to B-phone without a cloud.
    const dirA = await a().directory(true);
    assert.equal(
      dirA.nodes.some((n) => n.node_id === B.nodeId),
      false,
      JSON.stringify(dirA.nodes),
    );
    assert.equal(entryOf(dirA, phoneB.deviceId), undefined, "B-phone is not in A-phone's directory without the pairing");
  });
});
