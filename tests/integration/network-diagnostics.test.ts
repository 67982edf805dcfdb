// GET /api/node/diagnostics (what the "Network" panel shows), the addresses heartbeats try and what
// each attempt did, and peer addresses learned from every source.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanupAll, eventually, loopbackUrl, startTestNode } from '../helpers/test-node.js';
import { everyAddressAnswers, FakeDiscovery, fakeInterfaces } from './network-helpers.js';

after(cleanupAll);

describe('diagnostics', () => {
  test('lists interfaces, port, listen addresses, reachability, mDNS state and firewall hints (admin only)', async () => {
    // eth0 carries 127.0.0.1 (the node listens there: reachable) and 127.0.0.3 (nothing listens: refused).
    const ifaces = fakeInterfaces({ eth0: ['127.0.0.1', '127.0.0.3'], docker0: ['172.17.0.1'] });
    const node = await startTestNode({ networkInterfaces: ifaces.table });
    const r = await node.admin('/api/node/diagnostics');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const d = r.body;
    assert.deepEqual(Object.keys(d).sort(), [
      'firewall_hints',
      'interfaces',
      'listen',
      'mdns',
      'missing_interfaces',
      'peers',
      'port',
      'reachability',
    ]);
    assert.equal(d.port, node.port);
    assert.deepEqual(d.listen, { host: '127.0.0.1', addresses: ['127.0.0.1'], pending_restart: false });
    const lo = d.interfaces.find((i: any) => i.name === 'lo');
    assert.deepEqual(lo, { name: 'lo', address: '127.0.0.1', family: 'IPv4', kind: 'loopback', advertised: false });
    assert.equal(d.interfaces.find((i: any) => i.name === 'docker0').kind, 'container');
    assert.equal(d.interfaces.find((i: any) => i.name === 'docker0').advertised, false);
    for (const i of d.interfaces) {
      assert.deepEqual(Object.keys(i).sort(), ['address', 'advertised', 'family', 'kind', 'name']);
    }
    const reach = Object.fromEntries(d.reachability.map((x: any) => [x.address, x]));
    assert.deepEqual(Object.keys(reach).sort(), ['127.0.0.1', '127.0.0.3'], 'one check per advertised address');
    assert.deepEqual(reach['127.0.0.1'], { address: '127.0.0.1', url: `http://127.0.0.1:${node.port}/api/node/identity`, ok: true });
    assert.equal(reach['127.0.0.3'].ok, false);
    assert.equal(typeof reach['127.0.0.3'].error, 'string');
    assert.ok(reach['127.0.0.3'].error.length > 0);
    assert.deepEqual(d.mdns, { enabled: false, running: false, advertised_addresses: [], discovered: 0 });
    assert.deepEqual(d.peers, []);
    assert.deepEqual(
      d.firewall_hints.map((h: any) => h.os),
      ['linux', 'macos', 'windows'],
    );
    const linux = d.firewall_hints[0].text;
    assert.match(linux, /ufw/);
    assert.match(linux, /firewall-cmd/);
    assert.ok(linux.includes(String(node.port)));

    const anon = await fetch(`${node.base}/api/node/diagnostics`);
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as any).error, 'unauthorized');
  });

  test("on this machine's real interfaces the shape holds too (reachability may be empty)", async () => {
    const node = await startTestNode();
    const d = (await node.admin('/api/node/diagnostics')).body;
    assert.ok(Array.isArray(d.interfaces) && d.interfaces.some((i: any) => i.kind === 'loopback'));
    assert.ok(Array.isArray(d.reachability));
    for (const x of d.reachability) assert.equal(typeof x.ok, 'boolean');
    assert.equal(d.reachability.length, d.interfaces.filter((i: any) => i.advertised).length);
  });

  test("a peer's last heartbeat round shows every address tried and why the dead one failed", async () => {
    const fake = new FakeDiscovery();
    const bIfaces = fakeInterfaces({ eth0: ['127.0.0.1'] });
    const a = await startTestNode({ discovery: fake });
    const b = await startTestNode({ networkInterfaces: bIfaces.table, host: '0.0.0.0', reachability: everyAddressAnswers });
    const p = await b.startPairing();
    const paired = await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: p.pin } });
    assert.equal(paired.status, 200, JSON.stringify(paired.body));
    const bId = b.identity.node_id;
    // The peer link moves the address it connected over to the front when it comes up; this test is about
    // heartbeats alone, so the links are out of play from here (the peer link tests cover that path).
    a.core.peerLinks!.stop();
    b.core.peerLinks!.stop();

    // mDNS answers for a paired node: its addresses join the others, newest first. Unpaired ids are ignored.
    // B listens on IPv4 only, so its ::1 is a dead address.
    fake.emit('peer-addresses', bId, ['::1']);
    fake.emit('peer-addresses', 'node-00000000-0000-7000-8000-000000000000', ['192.0.2.99']);
    const peerDiag = async () => (await a.admin('/api/node/diagnostics')).body.peers.find((x: any) => x.node_id === bId);
    await eventually(async () => (await peerDiag())?.addresses[0] === '::1', 'the mDNS address is kept first');
    assert.equal((await a.admin('/api/node/diagnostics')).body.peers.length, 1);

    // B's interfaces change; A learns it from B's heartbeat answer.
    bIfaces.spec.eth0 = ['127.0.0.1', '198.51.100.7'];
    await eventually(() => b.core.desktopNode().addresses.includes('198.51.100.7'), 'B offers its new address (3 s poll)');
    await a.core.mesh.heartbeatPeers([]);
    const d = await peerDiag();
    assert.ok(d.last_attempt, JSON.stringify(d));
    assert.match(d.last_attempt.at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(d.last_attempt.tried[0].address, '::1');
    assert.equal(d.last_attempt.tried[0].ok, false);
    assert.ok(typeof d.last_attempt.tried[0].error === 'string' && d.last_attempt.tried[0].error.length > 0);
    assert.deepEqual(d.last_attempt.tried.at(-1), { address: '127.0.0.1', ok: true });
    assert.equal(d.status, 'online');
    assert.equal(d.name, b.identity.name);
    assert.ok(d.last_seen);
    assert.equal(d.addresses[0], '127.0.0.1', 'the address that answered moves to the front');
    assert.ok(d.addresses.includes('198.51.100.7'), 'the address B announced in its answer is kept');
    assert.ok(d.addresses.includes('::1'), 'older addresses are kept (bounded)');

    // The next round starts with the address that worked: nothing dead is tried first.
    await a.core.mesh.heartbeatPeers([]);
    assert.deepEqual((await peerDiag()).last_attempt.tried, [{ address: '127.0.0.1', ok: true }]);

    // B unpairs A while the peer links are out of play (over an up link A would be told at once and stop its
    // heartbeats, tests/integration/peer-link.test.ts): the round records the refusal and stops there.
    await b.admin(`/api/mesh/nodes/${a.identity.node_id}`, { method: 'DELETE' });
    await a.core.mesh.heartbeatPeers([]);
    const refused = (await peerDiag()).last_attempt.tried;
    assert.equal(refused.length, 1);
    assert.equal(refused[0].ok, false);
    assert.match(refused[0].error, /^HTTP 401 session_revoked$/);
  });
});
