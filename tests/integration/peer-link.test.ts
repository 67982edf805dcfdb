// Two real desktops paired as the person would pair them, each with a fake router port: the peer link comes
// up, carries envelopes and seen receipts both ways with acks, resends after a reconnect, keeps the home
// directory and names current, delivers unpair (link up, or later from a stored notice), and keeps one link
// when both sides dial.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { device, envelope, FAST_PEER_LINK, FakeRouterPort, linkUp, pairedDesktops } from '../helpers/peer-link-helpers.js';
import { cleanupAll, eventually, startTestNode } from '../helpers/test-node.js';

after(cleanupAll);

const meshRow = async (x: { admin: (p: string) => Promise<{ body: any }> }, id: string) =>
  (await x.admin('/api/admin/state')).body.devices.find((d: any) => d.node_id === id);

describe('peer link between paired desktops', () => {
  test('comes up after pairing; presence follows the link', async () => {
    const { a, b } = await pairedDesktops();
    await linkUp(a, b);
    assert.equal((await meshRow(a, b.identity.node_id)).status, 'online');
    assert.equal((await meshRow(b, a.identity.node_id)).status, 'online');
    assert.equal(a.core.peerLinks!.downSince(b.identity.node_id), undefined);
    const events: boolean[] = [];
    a.core.peerLinks!.onLinkChange((id, up) => {
      if (id === b.identity.node_id) events.push(up);
    });
    await b.stop();
    await eventually(() => !a.core.peerLinks!.isUp(b.identity.node_id), 'A sees the link down');
    assert.equal(events[0], false);
    assert.ok(typeof a.core.peerLinks!.downSince(b.identity.node_id) === 'number');
    assert.equal((await meshRow(a, b.identity.node_id)).status, 'offline', 'down = offline at once');
  });

  test('envelopes and seen receipts go both ways in order; acks only after the receiver stored them', async () => {
    const { a, b, ra, rb } = await pairedDesktops();
    ra.setDevices([device('phone-a-1')]);
    rb.setDevices([device('phone-b-1')]);
    await linkUp(a, b);
    await eventually(() => b.core.peerLinks!.homeDirectory.nodeOf('phone-a-1') === a.identity.node_id, 'B knows A serves phone-a-1');
    await eventually(() => a.core.peerLinks!.homeDirectory.nodeOf('phone-b-1') === b.identity.node_id, 'A knows B serves phone-b-1');

    const fromA = [1, 2, 3, 4, 5].map(() => envelope('phone-a-1', ['phone-b-1']));
    for (const e of fromA) ra.queueEnvelope(b.identity.node_id, e);
    const fromB = envelope('phone-b-1', ['phone-a-1']);
    rb.queueEnvelope(a.identity.node_id, fromB);
    const seenSeq = rb.queueSeen(a.identity.node_id, fromA[0]!.id, ['phone-b-1']);

    // A link replaced by the tie-break right after pairing may resend: the router dedups by id, so only the
    // order of first arrival counts here.
    const firstSeen = (xs: { envelope: { id: string } }[]) => [...new Set(xs.map((s) => s.envelope.id))];
    await eventually(() => firstSeen(rb.stored).length === 5, 'B stored all five');
    assert.deepEqual(
      firstSeen(rb.stored),
      fromA.map((e) => e.id),
      'in order',
    );
    assert.ok(
      rb.stored.every((s) => s.nodeId === a.identity.node_id),
      'origin = A',
    );
    await eventually(() => ra.acked.length === 5, 'A got five acks');
    assert.deepEqual(
      ra.acked.map((x) => x.id),
      fromA.map((e) => e.id),
      'each acked once, in order',
    );
    assert.equal(ra.outbox.get(b.identity.node_id)!.length, 0);

    await eventually(() => ra.stored.length >= 1 && ra.seen.length >= 1, "A stored B's envelope and its seen receipt");
    assert.ok(ra.stored.every((s) => s.envelope.id === fromB.id));
    assert.deepEqual(ra.seen[0], { nodeId: b.identity.node_id, id: fromA[0]!.id, deviceIds: ['phone-b-1'] });
    await eventually(() => rb.acked.some((x) => x.seq === seenSeq && x.kind === 'seen'), 'B got the ack of its seen receipt');
  });

  test('an envelope of the largest size crosses as several transport messages', async () => {
    const { a, b, ra, rb } = await pairedDesktops();
    ra.setDevices([device('phone-a-9')]);
    await linkUp(a, b);
    await eventually(() => b.core.peerLinks!.homeDirectory.nodeOf('phone-a-9'), 'directory');
    const big = envelope(
      'phone-a-9',
      Array.from({ length: 32 }, (_, i) => `phone-b-${String(i).padStart(2, '0')}`),
      64 * 1024,
    );
    assert.ok(JSON.stringify(big).length > 65535, 'larger than one Noise message');
    ra.queueEnvelope(b.identity.node_id, big);
    await eventually(() => ra.acked.length === 1, 'acked');
    assert.deepEqual(rb.stored[0]!.envelope, big);
  });

  test('an ack carries the recipients the receiver refused', async () => {
    const { a, b, ra, rb } = await pairedDesktops();
    ra.setDevices([device('phone-a-2')]);
    rb.setDevices([device('phone-b-2'), device('phone-b-3')]);
    await linkUp(a, b);
    await eventually(() => b.core.peerLinks!.homeDirectory.nodeOf('phone-a-2'), 'directory');
    rb.refuse = ['phone-b-3'];
    ra.queueEnvelope(b.identity.node_id, envelope('phone-a-2', ['phone-b-2', 'phone-b-3']));
    const ack = await eventually(() => ra.acked[0], 'acked');
    assert.deepEqual(ack.refused, { device_ids: ['phone-b-3'], error: 'recipient_backlog_full' });
  });

  test('an envelope not acked before a reconnect is sent again on the new link', async () => {
    const { a, b, ra, rb } = await pairedDesktops();
    ra.setDevices([device('phone-a-3')]);
    await linkUp(a, b);
    await eventually(() => b.core.peerLinks!.homeDirectory.nodeOf('phone-a-3'), 'directory');
    let release!: () => void;
    rb.hold = new Promise<void>((r) => {
      release = r;
    });
    const e = envelope('phone-a-3', ['phone-b-4']);
    ra.queueEnvelope(b.identity.node_id, e);
    await eventually(() => rb.stored.length === 1, 'B got it once (its commit is held back)');
    assert.equal(ra.acked.length, 0, 'no ack before the store resolved');
    rb.hold = undefined;
    a.core.peerLinks!.reconnect(b.identity.node_id);
    await eventually(() => ra.acked.length === 1, 'acked after the reconnect');
    assert.ok(rb.stored.length >= 2, "resent on the new link (dedup by id is the router's job)");
    assert.ok(rb.stored.every((s) => s.envelope.id === e.id));
    release();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ra.acked.length, 1, "the old link's late commit sends no ack on a dead link");
  });

  test('the directory and renames reach the other side live; the mesh row follows the announced name', async () => {
    const { a, b, ra } = await pairedDesktops();
    await linkUp(a, b);
    ra.setDevices([device('phone-a-4', 'Kitchen phone')]);
    await eventually(
      () => b.core.peerLinks!.homeDirectory.nodes().find((n) => n.node_id === a.identity.node_id)?.devices[0]?.name === 'Kitchen phone',
      "B sees A's phone",
    );
    ra.setDevices([{ ...ra.devices[0]!, name: 'Hall phone' }]);
    await eventually(
      () => b.core.peerLinks!.homeDirectory.nodes().find((n) => n.node_id === a.identity.node_id)?.devices[0]?.name === 'Hall phone',
      'device rename reached B',
    );
    a.core.rename('Living room PC');
    await eventually(async () => (await meshRow(b, a.identity.node_id))?.name === 'Living room PC', 'node rename reached B');
    const node = b.core.peerLinks!.homeDirectory.nodes().find((n) => n.node_id === a.identity.node_id)!;
    assert.equal(node.name, 'Living room PC');
    assert.equal(node.online, true);
  });

  test('unpair while the link is up: the other side marks the pairing ended, shows a notice, revokes our sessions', async () => {
    const { a, b, ra } = await pairedDesktops();
    ra.setDevices([device('phone-a-5')]);
    await linkUp(a, b);
    await eventually(() => b.core.peerLinks!.homeDirectory.nodeOf('phone-a-5'), 'directory');
    a.core.rename('Study PC');
    await eventually(async () => (await meshRow(b, a.identity.node_id))?.name === 'Study PC', 'rename');
    const del = await a.admin(`/api/mesh/nodes/${b.identity.node_id}`, { method: 'DELETE' });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const row = await eventually(async () => {
      const r = await meshRow(b, a.identity.node_id);
      return r?.ended_by_peer_at ? r : undefined;
    }, 'B marks the pairing ended');
    assert.equal(row.status, 'offline');
    const notices = (await b.admin('/api/admin/state')).body.notices;
    assert.ok(
      notices.some((n: any) => n.type === 'peer_unpaired' && n.name === 'Study PC' && n.node_id === a.identity.node_id),
      JSON.stringify(notices),
    );
    assert.equal(b.core.peerLinks!.homeDirectory.nodeOf('phone-a-5'), undefined, "A's devices are gone from B");
    assert.deepEqual(b.core.sessionsRepo.revokeAllFor(a.identity.node_id), [], 'every session of A on B was already revoked');
    await eventually(() => a.core.peerLinks!.linkInfo(b.identity.node_id) === undefined, 'A closed the link');
    assert.equal(b.core.peerLinks!.isUp(a.identity.node_id), false);
    // B never dials A again with the ended pairing; removing the ended row just removes it.
    assert.equal((await b.admin(`/api/mesh/nodes/${a.identity.node_id}`, { method: 'DELETE' })).status, 200);
    assert.equal(await meshRow(b, a.identity.node_id), undefined);
  });

  test('unpair while the link is down: kept as a notice and delivered once the other desktop is back', async () => {
    const rb = new FakeRouterPort();
    const { a, b } = await pairedDesktops();
    await linkUp(a, b);
    const bId = b.identity.node_id;
    const { dataDir, port } = b;
    await b.stop();
    await eventually(() => !a.core.peerLinks!.isUp(bId), 'down');
    assert.equal((await a.admin(`/api/mesh/nodes/${bId}`, { method: 'DELETE' })).status, 200);
    assert.equal(await meshRow(a, bId), undefined, 'gone from A at once');
    const b2 = await startTestNode({ dataDir, port, peerLink: FAST_PEER_LINK, peerLinkRouter: rb });
    const row = await eventually(
      async () => {
        const r = await meshRow(b2, a.identity.node_id);
        return r?.ended_by_peer_at ? r : undefined;
      },
      'B learns it was unpaired',
      30_000,
    );
    assert.ok(row);
    assert.ok((await b2.admin('/api/admin/state')).body.notices.some((n: any) => n.type === 'peer_unpaired'));
    assert.deepEqual(b2.core.sessionsRepo.revokeAllFor(a.identity.node_id), []);
    await eventually(
      () => a.core.peerLinks!.linkInfo(bId) === undefined && !a.core.peerLinks!.hasUnpairNotice(bId),
      'A dropped its notice',
    );
  });

  test('an unpair notice that cannot be delivered is given up after noticeKeepMs', async () => {
    const { a, b } = await pairedDesktops({ peerLink: { ...FAST_PEER_LINK, noticeKeepMs: 500 } });
    await linkUp(a, b);
    const bId = b.identity.node_id;
    await b.stop();
    await eventually(() => !a.core.peerLinks!.isUp(bId), 'down');
    assert.equal((await a.admin(`/api/mesh/nodes/${bId}`, { method: 'DELETE' })).status, 200);
    assert.equal(a.core.peerLinks!.hasUnpairNotice(bId), true, 'kept to tell B later');
    await eventually(() => !a.core.peerLinks!.hasUnpairNotice(bId), 'given up (its secret deleted)');
  });

  test('when both dial, both keep the link dialed by the smaller node id', async () => {
    const { a, b } = await pairedDesktops();
    await linkUp(a, b);
    const aSmaller = a.identity.node_id < b.identity.node_id;
    const events: string[] = [];
    a.core.peerLinks!.onLinkChange((_id, up) => events.push(`a:${up}`));
    b.core.peerLinks!.onLinkChange((_id, up) => events.push(`b:${up}`));
    for (let i = 0; i < 3; i++) {
      // Both dial while a link is up: two (or three) links for one pair at once.
      await Promise.all([a.core.peerLinks!.redial(b.identity.node_id), b.core.peerLinks!.redial(a.identity.node_id)]);
      await eventually(
        () =>
          a.core.peerLinks!.linkInfo(b.identity.node_id)?.dialedBySelf === aSmaller &&
          b.core.peerLinks!.linkInfo(a.identity.node_id)?.dialedBySelf === !aSmaller &&
          a.core.peerLinks!.linkInfo(b.identity.node_id)?.up &&
          b.core.peerLinks!.linkInfo(a.identity.node_id)?.up,
        "the smaller id's link stays on both sides",
      );
    }
    const sa = a.core.peerLinks!.linkInfo(b.identity.node_id)!;
    const sb = b.core.peerLinks!.linkInfo(a.identity.node_id)!;
    assert.equal(sa.sessionId, sb.sessionId, 'one pairing');
    assert.ok(a.core.peerLinks!.isUp(b.identity.node_id) && b.core.peerLinks!.isUp(a.identity.node_id));
    assert.deepEqual(
      events.filter((e) => e.endsWith('false')),
      [],
      'the tie-break never shows the desktop offline',
    );
  });
});
