// Desktop <-> desktop: node A pairs with B (by B's URL + PIN) and with C (by address + linking code); both
// ends know each other afterwards, a wrong fingerprint is refused, and heartbeats keep the link alive.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanupAll, eventually, loopbackUrl, startTestNode } from '../helpers/test-node.js';

after(cleanupAll);

function device(state: any, id: string) {
  return state.devices.find((d: any) => d.node_id === id);
}

describe('desktop-to-desktop pairing', () => {
  test('A pairs with B by URL + PIN; each ends with the other in mesh_nodes', async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const p = await b.startPairing();
    const r = await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: p.pin } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.node.node_id, b.identity.node_id);

    const aSeesB = device((await a.admin('/api/admin/state')).body, b.identity.node_id);
    assert.ok(aSeesB, 'A stored B from desktop_node');
    assert.equal(aSeesB.kind, 'desktop');
    assert.equal(aSeesB.port, b.port);
    assert.equal(aSeesB.public_key, b.identity.public_key);
    assert.equal(aSeesB.fingerprint, b.identity.fingerprint);

    const bSeesA = device((await b.admin('/api/admin/state')).body, a.identity.node_id);
    assert.ok(bSeesA, 'B stored A from node_identity');
    assert.equal(bSeesA.kind, 'desktop');
    assert.equal(bSeesA.port, a.port);
    assert.equal(bSeesA.public_key, a.identity.public_key);
  });

  test('A pairs with C by address + linking code (as after mDNS discovery): both screens show the same code, both confirm', async () => {
    const [a, c, d] = [await startTestNode(), await startTestNode(), await startTestNode()];
    const p = await c.startPairing();
    const r = await a.admin('/api/admin/pair-remote', {
      body: { host: '127.0.0.1', port: c.port, linking_code: p.linking_code, fingerprint: c.identity.fingerprint, pin: p.pin },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const mine = r.body.pending;
    assert.ok(mine, 'not paired yet: the codes must be compared first');
    assert.match(mine.sas, /^\d{6}$/);
    assert.equal(mine.direction, 'outgoing');
    const theirs = (await c.admin('/api/admin/state')).body.pending_pairings.find((x: any) => x.node_id === a.identity.node_id);
    assert.ok(theirs, 'C shows the pending pairing');
    assert.equal(theirs.sas, mine.sas, 'both screens show the same verification code');
    assert.equal(theirs.direction, 'incoming');
    assert.equal(
      device((await c.admin('/api/admin/state')).body, a.identity.node_id),
      undefined,
      'C has not added A before the person confirms',
    );
    assert.equal(device((await a.admin('/api/admin/state')).body, c.identity.node_id), undefined);

    assert.equal((await c.admin(`/api/admin/pairings/${theirs.pairing_id}/confirm`, { body: {} })).status, 200);
    const done = await a.admin(`/api/admin/pairings/${mine.pairing_id}/confirm`, { body: {} });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.ok(device((await c.admin('/api/admin/state')).body, a.identity.node_id));
    assert.ok(device((await a.admin('/api/admin/state')).body, c.identity.node_id));
    assert.equal((await d.admin('/api/admin/state')).body.devices.length, 0);
    const again = await c.admin(`/api/admin/pairings/${theirs.pairing_id}/confirm`, { body: {} });
    assert.equal(again.status, 404);
    assert.equal(again.body.error, 'pairing_not_pending');
  });

  test('a rejected linking-code pairing leaves no trace and its session never works', async () => {
    const [a, c] = [await startTestNode(), await startTestNode()];
    const p = await c.startPairing();
    const r = await a.admin('/api/admin/pair-remote', {
      body: { host: '127.0.0.1', port: c.port, linking_code: p.linking_code, pin: p.pin },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const theirs = (await c.admin('/api/admin/state')).body.pending_pairings[0];
    assert.equal((await c.admin(`/api/admin/pairings/${theirs.pairing_id}/reject`, { body: {} })).status, 200);
    assert.equal((await a.admin(`/api/admin/pairings/${r.body.pending.pairing_id}/reject`, { body: {} })).status, 200);
    assert.equal((await c.admin('/api/admin/state')).body.devices.length, 0);
    assert.equal((await a.admin('/api/admin/state')).body.devices.length, 0);
    assert.deepEqual((await c.admin('/api/admin/state')).body.pending_pairings, []);
  });

  test('a fingerprint that does not match the node reached is refused before any PIN is sent', async () => {
    const [a, b, other] = [await startTestNode(), await startTestNode(), await startTestNode()];
    const p = await b.startPairing();
    const u = new URL(loopbackUrl(p.url, b));
    u.searchParams.set('fp', other.identity.fingerprint.replace(/-/g, ''));
    const r = await a.admin('/api/admin/pair-remote', { body: { url: u.toString(), pin: p.pin } });
    assert.equal(r.status, 409);
    assert.equal(r.body.error, 'fingerprint_mismatch');
    // The code is untouched: the right fingerprint still pairs.
    const ok = await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: p.pin } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test("the other node's verdict on a wrong PIN reaches the UI with attempts left", async () => {
    const [a, b] = [await startTestNode(), await startTestNode()];
    const p = await b.startPairing();
    const wrong = p.pin === '999999' ? '000000' : '999999';
    const r = await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: wrong } });
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'pin_mismatch');
    assert.equal(r.body.attempts_left, 4);
  });

  test('an unreachable peer is a clear 502, not a hang or a 500', async () => {
    const a = await startTestNode();
    const b = await startTestNode();
    const p = await b.startPairing();
    const url = loopbackUrl(p.url, b);
    await b.stop();
    const r = await a.admin('/api/admin/pair-remote', { body: { url, pin: p.pin } });
    assert.equal(r.status, 502);
    assert.equal(r.body.error, 'peer_unreachable');
  });

  test('heartbeats from A keep A online on B and refresh last_seen', async () => {
    const a = await startTestNode({ timings: { heartbeatIntervalMs: 50 } });
    const b = await startTestNode();
    const p = await b.startPairing();
    assert.equal((await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: p.pin } })).status, 200);
    const first = device((await b.admin('/api/admin/state')).body, a.identity.node_id).last_seen;
    await eventually(
      async () => device((await b.admin('/api/admin/state')).body, a.identity.node_id).last_seen !== first,
      'B sees a newer heartbeat from A',
    );
    assert.equal(device((await b.admin('/api/admin/state')).body, a.identity.node_id).status, 'online');
  });
});
