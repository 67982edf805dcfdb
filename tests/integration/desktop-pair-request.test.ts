// Desktop <-> desktop pairing by request (docs/protocol.md, "Pair requests"): A picks B and presses Pair; B's
// screen asks "Accept pairing from A?" with the same short code A shows. Accept pairs both ends (and the peer link
// comes up and carries envelopes); Decline leaves neither with the other and A learns it by itself; a request
// nobody answers expires; B's side is bounded (one prompt per sender, a rate limit).

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { device as dirDevice, envelope, FAST_PEER_LINK, FakeRouterPort, linkUp } from '../helpers/peer-link-helpers.js';
import { cleanupAll, eventually, startTestNode, type TestNode } from '../helpers/test-node.js';

after(cleanupAll);

const state = async (x: TestNode) => (await x.admin('/api/admin/state')).body;
const device = async (x: TestNode, id: string) => (await state(x)).devices.find((d: any) => d.node_id === id);
const pendingFrom = async (x: TestNode, id: string) => (await state(x)).pending_pairings.find((p: any) => p.node_id === id);

async function request(
  a: TestNode,
  b: TestNode,
  body: Record<string, unknown> = { host: '127.0.0.1', port: b.port, fingerprint: b.identity.fingerprint },
) {
  const r = await a.admin('/api/admin/pair-requests', { body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.pending;
}

describe('desktop pairing by request', () => {
  test('request -> B shows the prompt with the same code -> accept -> both paired, A learns it by itself, link carries envelopes', async () => {
    const ra = new FakeRouterPort();
    const rb = new FakeRouterPort();
    const a = await startTestNode({ peerLink: FAST_PEER_LINK, peerLinkRouter: ra });
    const b = await startTestNode({ peerLink: FAST_PEER_LINK, peerLinkRouter: rb });
    const mine = await request(a, b);
    assert.equal(mine.direction, 'outgoing');
    assert.equal(mine.status, 'waiting');
    assert.equal(mine.fingerprint_pinned, true);
    assert.equal(mine.node_id, b.identity.node_id);
    assert.match(mine.sas, /^\d{6}$/);
    assert.ok(await pendingFrom(a, b.identity.node_id), "A's state lists the outgoing request");

    const theirs = await pendingFrom(b, a.identity.node_id);
    assert.ok(theirs, 'B shows the prompt');
    assert.equal(theirs.direction, 'incoming');
    assert.equal(theirs.name, a.identity.name);
    assert.equal(theirs.fingerprint, a.identity.fingerprint);
    assert.equal(theirs.sas, mine.sas, 'both screens show the same code');
    assert.equal(await device(b, a.identity.node_id), undefined, 'nothing stored before the person accepts');
    assert.equal(await device(a, b.identity.node_id), undefined);

    const ok = await b.admin(`/api/admin/pairings/${theirs.pairing_id}/confirm`, { body: {} });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok(await device(b, a.identity.node_id), 'B stored A');
    await eventually(() => device(a, b.identity.node_id), 'A stored B without anyone doing anything on A');
    assert.equal(await pendingFrom(a, b.identity.node_id), undefined, "A's pending entry is gone");
    assert.deepEqual((await state(b)).pending_pairings, []);

    ra.setDevices([dirDevice('phone-a-1')]);
    rb.setDevices([dirDevice('phone-b-1')]);
    await linkUp(a, b);
    await eventually(() => a.core.peerLinks!.homeDirectory.nodeOf('phone-b-1') === b.identity.node_id, 'A knows B serves phone-b-1');
    const e = envelope('phone-a-1', ['phone-b-1']);
    ra.queueEnvelope(b.identity.node_id, e);
    await eventually(
      () => rb.stored.some((s) => s.envelope.id === e.id && s.nodeId === a.identity.node_id),
      'B stored the envelope from A',
    );
  });

  test("B's pairing link works as the target too (fingerprint from fp=)", async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const p = await b.startPairing();
    const u = new URL(p.url);
    u.hostname = '127.0.0.1';
    const mine = await request(a, b, { url: u.toString() });
    assert.equal(mine.fingerprint_pinned, true);
    assert.ok(await pendingFrom(b, a.identity.node_id));
  });

  test("without a fingerprint A learns B's from B and says it was not pinned", async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const mine = await request(a, b, { host: '127.0.0.1', port: b.port });
    assert.equal(mine.fingerprint_pinned, false);
    assert.equal(mine.fingerprint, b.identity.fingerprint);
  });

  test('decline -> A learns it, neither has the other; a late accept on B pairs nothing', async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const mine = await request(a, b);
    const theirs = await pendingFrom(b, a.identity.node_id);
    assert.equal((await b.admin(`/api/admin/pairings/${theirs.pairing_id}/reject`, { body: {} })).status, 200);
    const seen = await eventually(async () => {
      const p = await pendingFrom(a, b.identity.node_id);
      return p?.status === 'declined' ? p : undefined;
    }, 'A shows that B declined');
    assert.match(seen.message, /declined/);
    assert.equal(seen.pairing_id, mine.pairing_id);
    assert.equal(await device(a, b.identity.node_id), undefined);
    assert.equal(await device(b, a.identity.node_id), undefined);
    const late = await b.admin(`/api/admin/pairings/${theirs.pairing_id}/confirm`, { body: {} });
    assert.equal(late.status, 404);
    // A's own confirm cannot turn a pair request into a pairing; dismissing it clears the entry.
    assert.equal((await a.admin(`/api/admin/pairings/${mine.pairing_id}/confirm`, { body: {} })).status, 404);
    assert.equal((await a.admin(`/api/admin/pairings/${mine.pairing_id}/reject`, { body: {} })).status, 200);
    assert.deepEqual((await state(a)).pending_pairings, []);
  });

  test('a request nobody answers expires on both sides', async () => {
    const a = await startTestNode({ timings: { pairingTtlMs: 1_500 } });
    const b = await startTestNode({ timings: { pairingTtlMs: 1_500 } });
    await request(a, b);
    assert.ok(await pendingFrom(b, a.identity.node_id));
    await eventually(async () => (await pendingFrom(a, b.identity.node_id))?.status === 'expired', 'A shows the request expired');
    assert.equal(await pendingFrom(b, a.identity.node_id), undefined, "B's prompt is gone");
    assert.equal(await device(a, b.identity.node_id), undefined);
    assert.equal(await device(b, a.identity.node_id), undefined);
  });

  test('a repeated request from the same node replaces its older prompt (whose session is ended)', async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    await request(a, b);
    const first = await pendingFrom(b, a.identity.node_id);
    await request(a, b);
    const prompts = (await state(b)).pending_pairings.filter((p: any) => p.node_id === a.identity.node_id);
    assert.equal(prompts.length, 1);
    assert.notEqual(prompts[0].pairing_id, first.pairing_id);
    assert.equal((await b.admin(`/api/admin/pairings/${first.pairing_id}/confirm`, { body: {} })).status, 404);
    assert.equal((await state(a)).pending_pairings.length, 1, 'A keeps one entry for B too');
  });

  test('pair requests are rate-limited per source address', async () => {
    const a = await startTestNode();
    const b = await startTestNode({ limits: { pairRequestsPerMinute: 3 } });
    for (let i = 0; i < 3; i++) await request(a, b);
    const r = await a.admin('/api/admin/pair-requests', { body: { host: '127.0.0.1', port: b.port } });
    assert.equal(r.status, 429, JSON.stringify(r.body));
    assert.equal(r.body.error, 'rate_limited');
  });

  test('an unreachable desktop is a clear 502', async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const port = b.port;
    await b.stop();
    const r = await a.admin('/api/admin/pair-requests', { body: { host: '127.0.0.1', port } });
    assert.equal(r.status, 502);
    assert.equal(r.body.error, 'peer_unreachable');
  });
});
