// Presence is online / degraded / offline from heartbeats, and offline at once on an mDNS goodbye.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { cleanupAll, eventually, loopbackUrl, makePhone, pairPhone, startTestNode } from '../helpers/test-node.js';
import { FakeDiscovery } from './network-helpers.js';

after(cleanupAll);

describe('presence', () => {
  test('online, then degraded after half the offline time, then offline; a heartbeat brings it back', async () => {
    const node = await startTestNode({ timings: { offlineAfterMs: 1_500 } });
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/api/admin/events`, ['salita-admin', node.adminToken]);
    const pushed: string[] = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'state' && m.state.devices[0]) pushed.push(m.state.devices[0].status);
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const phone = makePhone('Presence phone');
    const p = await pairPhone(node, { phone });
    const status = async () => (await node.admin('/api/admin/state')).body.devices[0].status;
    assert.equal(await status(), 'online');
    await eventually(async () => (await status()) === 'degraded', 'degraded after half of offlineAfterMs');
    await eventually(async () => (await status()) === 'offline', 'offline after offlineAfterMs');
    // The sweeper pushes each change to the desktop UI without it asking.
    await eventually(() => pushed.includes('degraded') && pushed.includes('offline'), 'degraded and offline were pushed');
    const diag = (await node.admin('/api/node/diagnostics')).body.peers[0];
    assert.equal(diag.status, 'offline');
    assert.equal((await p.stubborn().request('POST', '/api/node/heartbeat', {})).status, 200);
    assert.equal(await status(), 'online');
    ws.close();
  });

  test('an mDNS goodbye from a paired desktop shows it offline at once, until it is heard again', async () => {
    const fake = new FakeDiscovery();
    const a = await startTestNode({ discovery: fake });
    const b = await startTestNode();
    const p = await b.startPairing();
    assert.equal((await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: p.pin } })).status, 200);
    const phone = await pairPhone(a, { phone: makePhone('Goodbye-proof phone') });
    const status = async (id: string) => (await a.admin('/api/admin/state')).body.devices.find((d: any) => d.node_id === id).status;
    assert.equal(await status(b.identity.node_id), 'online');

    fake.emit('goodbye', b.identity.node_id);
    fake.emit('goodbye', phone.phone.identity.node_id);
    fake.emit('goodbye', 'node-00000000-0000-7000-8000-000000000000');
    assert.equal(await status(b.identity.node_id), 'offline');
    assert.equal(await status(phone.phone.identity.node_id), 'online', 'phones do not speak mDNS: a goodbye in their name changes nothing');

    await a.core.mesh.heartbeatPeers([]);
    assert.equal(await status(b.identity.node_id), 'online', 'heard again: online');
  });
});
