// After pairing: announce, heartbeat, presence, live pushes to the desktop UI, and unpair that cuts a
// device off at once.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { cleanupAll, eventually, makePhone, postJson, startTestNode, type TestNode } from '../helpers/test-node.js';

after(cleanupAll);

async function pairPhone(node: TestNode, name = 'Phone') {
  const p = await node.startPairing();
  const phone = makePhone(name);
  const r = await postJson(`${node.base}/auth/pair/verify`, { code: p.code, pin: p.pin, node_identity: phone.identity });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { ...phone, token: r.body.session_token as string, auth: { authorization: `Session ${r.body.session_token}` } };
}

function openAdminSocket(node: TestNode, token = node.adminToken) {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/api/admin/events`, ['salita-admin', token]);
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  return { ws, messages, opened: new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); }) };
}

describe('announce and heartbeat', () => {
  test('a paired node updates its own record; it may not announce another node', async () => {
    const node = await startTestNode();
    const phone = await pairPhone(node);
    const other = await pairPhone(node, 'Other');
    const ok = await postJson(`${node.base}/api/mesh/announce`, { node_id: phone.identity.node_id, name: 'Renamed phone', capabilities: ['posting', 'media.upload'], addresses: ['192.0.2.77'] }, phone.auth);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.node.name, 'Renamed phone');
    assert.deepEqual(ok.body.node.capabilities, ['posting', 'media.upload']);
    assert.ok(ok.body.node.addresses.includes('192.0.2.77'));
    const spoof = await postJson(`${node.base}/api/mesh/announce`, { node_id: other.identity.node_id, name: 'Hijacked' }, phone.auth);
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
    const fake = await postJson(`${node.base}/api/node/heartbeat`, {}, { authorization: 'Session ' + 'A'.repeat(43) });
    assert.equal(fake.status, 401);
    assert.equal(fake.body.error, 'session_unknown');
  });

  test('a silent device goes offline; a heartbeat brings it back with its new address', async () => {
    const node = await startTestNode({ timings: { offlineAfterMs: 300 } });
    const phone = await pairPhone(node);
    const status = async () => (await node.admin('/api/admin/state')).body.devices[0];
    assert.equal((await status()).status, 'online');
    await eventually(async () => (await status()).status === 'offline', 'the phone shows offline after silence');
    const hb = await postJson(`${node.base}/api/node/heartbeat`, { addresses: ['198.51.100.4'] }, phone.auth);
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
    const phone = await pairPhone(node);
    const keep = await pairPhone(node, 'Keeper');
    assert.equal((await postJson(`${node.base}/api/node/heartbeat`, {}, phone.auth)).status, 200);
    const del = await node.admin(`/api/mesh/nodes/${phone.identity.node_id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const after = await postJson(`${node.base}/api/node/heartbeat`, {}, phone.auth);
    assert.equal(after.status, 401);
    assert.equal(after.body.error, 'session_revoked');
    const announce = await postJson(`${node.base}/api/mesh/announce`, { node_id: phone.identity.node_id, name: 'Back?' }, phone.auth);
    assert.equal(announce.status, 401, 'a revoked device cannot re-add itself');
    const state = await node.admin('/api/admin/state');
    assert.deepEqual(state.body.devices.map((d: any) => d.node_id), [keep.identity.node_id]);
    assert.equal((await postJson(`${node.base}/api/node/heartbeat`, {}, keep.auth)).status, 200, 'other devices are unaffected');
    const missing = await node.admin(`/api/mesh/nodes/${phone.identity.node_id}`, { method: 'DELETE' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not_found');
  });

  test('re-pairing the same device replaces its row and its old session', async () => {
    const node = await startTestNode();
    const first = await pairPhone(node);
    const p = await node.startPairing();
    const again = await postJson(`${node.base}/auth/pair/verify`, { code: p.code, pin: p.pin, node_identity: { ...first.identity, name: 'Same phone, new name' } });
    assert.equal(again.status, 200);
    const state = await node.admin('/api/admin/state');
    assert.equal(state.body.devices.length, 1);
    assert.equal(state.body.devices[0].name, 'Same phone, new name');
    assert.equal((await postJson(`${node.base}/api/node/heartbeat`, {}, first.auth)).body.error, 'session_revoked');
    assert.equal((await postJson(`${node.base}/api/node/heartbeat`, {}, { authorization: `Session ${again.body.session_token}` })).status, 200);
  });
});

describe('admin events socket', () => {
  test('pushes the device list when a phone pairs and when it is unpaired (no polling)', async () => {
    const node = await startTestNode();
    const s = openAdminSocket(node);
    await s.opened;
    await eventually(() => s.messages.find((m) => m.type === 'state'), 'initial state');
    assert.equal(s.messages[0].state.identity.node_id, node.identity.node_id);
    const phone = await pairPhone(node, 'Pushed phone');
    await eventually(() => s.messages.find((m) => m.type === 'pairing_completed' && m.node_id === phone.identity.node_id), 'pairing_completed event');
    await eventually(() => s.messages.some((m) => m.type === 'state' && m.state.devices.some((d: any) => d.name === 'Pushed phone')), 'a state push that lists the phone');
    await node.admin(`/api/mesh/nodes/${phone.identity.node_id}`, { method: 'DELETE' });
    await eventually(() => { const last = s.messages.filter((m) => m.type === 'state').at(-1); return last && last.state.devices.length === 0; }, 'a state push without the phone');
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
    const pub = await (await fetch(`${node.base}/api/node/identity`)).json() as any;
    assert.equal(pub.name, 'Study PC');
    const bad = await node.admin('/api/node/identity', { method: 'PATCH', body: { name: '   ' } });
    assert.equal(bad.status, 400);
    s.ws.close();
  });
});
