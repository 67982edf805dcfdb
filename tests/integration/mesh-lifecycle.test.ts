// After pairing: announce, heartbeat, presence, live pushes to the desktop UI, and unpair that cuts a
// device off at once.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { cleanupAll, eventually, makePhone, pairPhone, postJson, startTestNode, type TestNode } from '../helpers/test-node.js';

after(cleanupAll);

/** A paired phone whose every call is signed; `call` never forgets the session, so tests can see later refusals. */
async function pairedPhone(node: TestNode, name = 'Phone', phone = makePhone(name)) {
  const p = await pairPhone(node, { phone });
  return {
    ...p,
    identity: phone.identity,
    call: (method: string, path: string, body?: unknown) => p.stubborn().request(method, path, body),
  };
}

function openAdminSocket(node: TestNode, token = node.adminToken) {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/api/admin/events`, ['salita-admin', token]);
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  return {
    ws,
    messages,
    opened: new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
  };
}

describe('announce and heartbeat', () => {
  test('a paired node updates its own record; it may not announce another node', async () => {
    const node = await startTestNode();
    const phone = await pairedPhone(node);
    const other = await pairedPhone(node, 'Other');
    const ok = await phone.call('POST', '/api/mesh/announce', {
      node_id: phone.identity.node_id,
      name: 'Renamed phone',
      capabilities: ['posting', 'media.upload'],
      addresses: ['192.0.2.77'],
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.node.name, 'Renamed phone');
    assert.deepEqual(ok.body.node.capabilities, ['posting', 'media.upload']);
    assert.ok(ok.body.node.addresses.includes('192.0.2.77'));
    const spoof = await phone.call('POST', '/api/mesh/announce', { node_id: other.identity.node_id, name: 'Hijacked' });
    assert.equal(spoof.status, 403);
    assert.equal(spoof.body.error, 'node_mismatch');
    const state = await node.admin('/api/admin/state');
    assert.equal(state.body.devices.find((d: any) => d.node_id === other.identity.node_id).name, 'Other');
    const rows = state.body.devices.filter((d: any) => d.node_id === phone.identity.node_id);
    assert.equal(rows.length, 1, 'announce never duplicates a row');
  });

  test('device routes without a session, or with a made-up one, get 401', async () => {
    const node = await startTestNode();
    const none = await postJson(`${node.base}/api/node/heartbeat`, {});
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'session_unknown');
    const fake = await postJson(`${node.base}/api/node/heartbeat`, {}, { authorization: `Session ${'A'.repeat(22)}` });
    assert.equal(fake.status, 401);
    assert.equal(fake.body.error, 'session_unknown');
    const made = new DeviceClient(node.base, { sessionId: 'A'.repeat(22), deviceSecret: new Uint8Array(32) });
    const signed = await made.request('POST', '/api/node/heartbeat', {});
    assert.equal(signed.status, 401);
    assert.equal(signed.body.error, 'session_unknown', 'a correctly signed request for a session that does not exist');
  });

  test('a silent device goes offline; a heartbeat brings it back with its new address', async () => {
    const node = await startTestNode({ timings: { offlineAfterMs: 300 } });
    const phone = await pairedPhone(node);
    const status = async () => (await node.admin('/api/admin/state')).body.devices[0];
    assert.equal((await status()).status, 'online');
    await eventually(async () => (await status()).status === 'offline', 'the phone shows offline after silence');
    const hb = await phone.call('POST', '/api/node/heartbeat', { addresses: ['198.51.100.4'] });
    assert.equal(hb.status, 200);
    assert.equal(hb.body.desktop_node.node_id, node.identity.node_id);
    const after = await status();
    assert.equal(after.status, 'online');
    assert.ok(after.addresses.includes('198.51.100.4'));
  });
});

describe('unpair', () => {
  test('revokes the device at once: its very next call is refused as revoked', async () => {
    const node = await startTestNode();
    const phone = await pairedPhone(node);
    const keep = await pairedPhone(node, 'Keeper');
    assert.equal((await phone.call('POST', '/api/node/heartbeat', {})).status, 200);
    const del = await node.admin(`/api/mesh/nodes/${phone.identity.node_id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const after = await phone.call('POST', '/api/node/heartbeat', {});
    assert.equal(after.status, 401);
    assert.equal(after.body.error, 'session_revoked');
    const announce = await phone.call('POST', '/api/mesh/announce', { node_id: phone.identity.node_id, name: 'Back?' });
    assert.equal(announce.status, 401, 'a revoked device cannot re-add itself');
    const state = await node.admin('/api/admin/state');
    assert.deepEqual(
      state.body.devices.map((d: any) => d.node_id),
      [keep.identity.node_id],
    );
    assert.equal((await keep.call('POST', '/api/node/heartbeat', {})).status, 200, 'other devices are unaffected');
    const missing = await node.admin(`/api/mesh/nodes/${phone.identity.node_id}`, { method: 'DELETE' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not_found');
  });

  test('re-pairing the same device replaces its row and its old session', async () => {
    const node = await startTestNode();
    const first = await pairedPhone(node);
    const again = await pairedPhone(node, 'Same phone, new name', {
      ...first.phone,
      identity: { ...first.identity, name: 'Same phone, new name' },
      pairing: { ...first.phone.pairing, payload: { ...first.identity, name: 'Same phone, new name' } },
    });
    const state = await node.admin('/api/admin/state');
    assert.equal(state.body.devices.length, 1);
    assert.equal(state.body.devices[0].name, 'Same phone, new name');
    assert.equal((await first.call('POST', '/api/node/heartbeat', {})).body.error, 'session_revoked');
    assert.equal((await again.call('POST', '/api/node/heartbeat', {})).status, 200);
  });
});

describe('admin events socket', () => {
  test('pushes the device list when a phone pairs and when it is unpaired (no polling)', async () => {
    const node = await startTestNode();
    const s = openAdminSocket(node);
    await s.opened;
    await eventually(() => s.messages.find((m) => m.type === 'state'), 'initial state');
    assert.equal(s.messages[0].state.identity.node_id, node.identity.node_id);
    const phone = await pairedPhone(node, 'Pushed phone');
    await eventually(
      () => s.messages.find((m) => m.type === 'pairing_completed' && m.node_id === phone.identity.node_id),
      'pairing_completed event',
    );
    await eventually(
      () => s.messages.some((m) => m.type === 'state' && m.state.devices.some((d: any) => d.name === 'Pushed phone')),
      'a state push that lists the phone',
    );
    await node.admin(`/api/mesh/nodes/${phone.identity.node_id}`, { method: 'DELETE' });
    await eventually(() => {
      const last = s.messages.filter((m) => m.type === 'state').at(-1);
      return last && last.state.devices.length === 0;
    }, 'a state push without the phone');
    s.ws.close();
  });

  test('refuses a socket without the admin token', async () => {
    const node = await startTestNode();
    const s = openAdminSocket(node, 'wrong-token');
    await assert.rejects(s.opened, /401/);
  });

  test('rename is persisted and pushed', async () => {
    const node = await startTestNode();
    const s = openAdminSocket(node);
    await s.opened;
    const r = await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Study PC' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.name, 'Study PC');
    await eventually(() => s.messages.some((m) => m.type === 'state' && m.state.identity.name === 'Study PC'), 'renamed state');
    const pub = (await (await fetch(`${node.base}/api/node/identity`)).json()) as any;
    assert.equal(pub.name, 'Study PC');
    const bad = await node.admin('/api/node/identity', { method: 'PATCH', body: { name: '   ' } });
    assert.equal(bad.status, 400);
    s.ws.close();
  });
});
