// Pairing again after a reinstall replaces the stale record cleanly: one row per device, the old
// sessions revoked, the person told (a notice they can dismiss). A different device is never replaced.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { cleanupAll, loopbackUrl, makePhone, type Phone, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';
import { customPhone } from './network-helpers.js';

after(cleanupAll);

async function state(node: TestNode) {
  return (await node.admin('/api/admin/state')).body;
}

/** Pairs, then checks the new pairing replaced the old one: one row, old creds revoked, new creds work, a notice. */
async function expectReplaced(node: TestNode, old: Awaited<ReturnType<typeof pairPhone>>, next: Phone) {
  const fresh = await pairPhone(node, { phone: next });
  const s = await state(node);
  assert.deepEqual(
    s.devices.map((d: any) => d.node_id),
    [next.identity.node_id],
    'exactly one row, the new one',
  );
  assert.equal(s.devices[0].public_key, next.identity.public_key);
  const oldCall = await old.stubborn().request('POST', '/api/node/heartbeat', {});
  assert.equal(oldCall.status, 401);
  assert.equal(oldCall.body.error, 'session_revoked');
  assert.equal((await fresh.stubborn().request('POST', '/api/node/heartbeat', {})).status, 200);
  assert.equal(s.notices.length, 1, JSON.stringify(s.notices));
  const n = s.notices[0];
  assert.equal(n.type, 'device_replaced');
  assert.equal(n.name, next.identity.name);
  assert.equal(n.old_node_id, old.phone.identity.node_id);
  assert.equal(n.new_node_id, next.identity.node_id);
  assert.ok(!Number.isNaN(Date.parse(n.at)));
  return { fresh, notice: n };
}

describe('re-pair after reinstall', () => {
  test('(a) same node_id with a new key: replaced, old session revoked, a notice that can be dismissed', async () => {
    const node = await startTestNode();
    const first = await pairPhone(node, { phone: customPhone({ name: 'Kitchen tablet' }) });
    const reinstalled = customPhone({ name: 'Kitchen tablet', nodeId: first.phone.identity.node_id });
    assert.notEqual(reinstalled.identity.public_key, first.phone.identity.public_key);
    const { notice } = await expectReplaced(node, first, reinstalled);
    assert.equal(notice.old_node_id, notice.new_node_id);
    const d = await node.admin(`/api/admin/notices/${notice.id}/dismiss`, { body: {} });
    assert.equal(d.status, 200);
    assert.deepEqual(d.body, { ok: true });
    assert.deepEqual((await state(node)).notices, []);
    assert.deepEqual(
      (await node.admin(`/api/admin/notices/${notice.id}/dismiss`, { body: {} })).body,
      { ok: true },
      'dismissing twice is fine',
    );
    const anon = await fetch(`${node.base}/api/admin/notices/${notice.id}/dismiss`, { method: 'POST' });
    assert.equal(anon.status, 401);
  });

  test('(b) same key under a new node_id: replaced', async () => {
    const node = await startTestNode();
    const first = await pairPhone(node, { phone: customPhone({ name: 'Old name' }) });
    const renumbered = customPhone({ name: 'New name', keyFrom: first.phone });
    assert.equal(renumbered.identity.public_key, first.phone.identity.public_key);
    await expectReplaced(node, first, renumbered);
  });

  test('(c) same name, kind and platform with a new key and node_id: replaced', async () => {
    const node = await startTestNode();
    const first = await pairPhone(node, { phone: customPhone({ name: "Ana's phone", platform: 'web' }) });
    await expectReplaced(node, first, customPhone({ name: "ana's phone", platform: 'web' }));
    const again = await pairPhone(node, { phone: makePhone('Kitchen Phone') });
    await pairPhone(node, { phone: makePhone('Kitchen Phone') });
    const s = await state(node);
    assert.equal(s.devices.filter((d: any) => d.name === 'Kitchen Phone').length, 1);
    assert.equal(s.notices[0].old_node_id, again.phone.identity.node_id);
  });

  test('(c) for a desktop that paired with us: its reinstall replaces it', async () => {
    const a = await startTestNode();
    const b1 = await startTestNode();
    const p1 = await a.startPairing();
    assert.equal((await b1.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p1.url, a), pin: p1.pin } })).status, 200);
    assert.deepEqual(
      (await state(a)).devices.map((d: any) => d.node_id),
      [b1.identity.node_id],
    );
    // Same machine, same name, a fresh data dir: a reinstall.
    const b2 = await startTestNode();
    assert.equal(b2.identity.name, b1.identity.name);
    const p2 = await a.startPairing();
    assert.equal((await b2.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p2.url, a), pin: p2.pin } })).status, 200);
    const s = await state(a);
    assert.deepEqual(
      s.devices.map((d: any) => d.node_id),
      [b2.identity.node_id],
    );
    assert.equal(s.notices[0].old_node_id, b1.identity.node_id);
    // b1's link on a is dead: its heartbeat round records the refusal.
    await b1.core.mesh.heartbeatPeers([]);
    assert.equal(b1.core.mesh.lastHeartbeatRound(a.identity.node_id)?.tried[0]?.error, 'HTTP 401 session_revoked');
  });

  test('a plain re-pair of the same device (same id, same key) replaces nothing and adds no notice', async () => {
    const node = await startTestNode();
    const phone = customPhone({ name: 'Steady phone' });
    const first = await pairPhone(node, { phone });
    await pairPhone(node, { phone });
    const s = await state(node);
    assert.equal(s.devices.length, 1);
    assert.deepEqual(s.notices, []);
    assert.equal(
      (await first.stubborn().request('POST', '/api/node/heartbeat', {})).body.error,
      'session_revoked',
      'its old session still ends',
    );
  });

  test('a different device is not replaced: another name, another platform, or a generic default name', async () => {
    const node = await startTestNode();
    const first = await pairPhone(node, { phone: customPhone({ name: "Ana's phone", platform: 'web' }) });
    const others = [
      customPhone({ name: "Ben's phone", platform: 'web' }),
      customPhone({ name: "Ana's phone", platform: 'android' }),
      customPhone({ name: 'Android phone', platform: 'web' }),
      customPhone({ name: 'Android phone', platform: 'web' }),
      customPhone({ name: 'Linux device', platform: 'web' }),
      customPhone({ name: 'linux device', platform: 'web' }),
    ];
    for (const o of others) await pairPhone(node, { phone: o });
    const s = await state(node);
    assert.equal(s.devices.length, 1 + others.length);
    assert.deepEqual(s.notices, []);
    assert.equal((await first.stubborn().request('POST', '/api/node/heartbeat', {})).status, 200, 'the first device keeps working');
  });

  test('the messaging directory names the ids a re-paired device replaced, through several reinstalls, until it is unpaired', async () => {
    const node = await startTestNode();
    const watcher = await pairPhone(node, { phone: customPhone({ name: 'Watcher', platform: 'ios' }) });
    const directory = async () => (await watcher.client.request('GET', '/api/messages/directory')).body.devices as any[];
    const v1 = await pairPhone(node, { phone: customPhone({ name: 'Ben phone', platform: 'web' }) });
    assert.equal((await directory()).find((d) => d.device_id === v1.phone.identity.node_id)?.replaces, undefined);
    const v2 = await pairPhone(node, { phone: customPhone({ name: 'Ben phone', platform: 'web' }) });
    const v3 = await pairPhone(node, { phone: customPhone({ name: 'Ben phone', platform: 'web' }) });
    const ben = (await directory()).filter((d) => d.name === 'Ben phone');
    assert.deepEqual(
      ben.map((d) => d.device_id),
      [v3.phone.identity.node_id],
    );
    // Someone who last knew v1 (offline through v2) still recognises v3.
    assert.deepEqual([...ben[0].replaces].sort(), [v1.phone.identity.node_id, v2.phone.identity.node_id].sort());
    const unpaired = await node.admin(`/api/mesh/nodes/${v3.phone.identity.node_id}`, { method: 'DELETE' });
    assert.equal(unpaired.status, 200, JSON.stringify(unpaired.body));
    const v4 = await pairPhone(node, { phone: customPhone({ name: 'Ben phone', platform: 'web' }) });
    assert.equal(
      (await directory()).find((d) => d.device_id === v4.phone.identity.node_id)?.replaces,
      undefined,
      'an unpaired device is forgotten',
    );
  });

  test('notices are newest first and capped at 20', async () => {
    const node = await startTestNode();
    let prev = await pairPhone(node, { phone: customPhone({ name: 'Churn', nodeId: `phone-${uuidv7()}` }) });
    for (let i = 0; i < 22; i++) {
      prev = await pairPhone(node, { phone: customPhone({ name: 'Churn', nodeId: prev.phone.identity.node_id }) });
    }
    const s = await state(node);
    assert.equal(s.devices.length, 1);
    assert.equal(s.notices.length, 20);
    assert.ok(Date.parse(s.notices[0].at) >= Date.parse(s.notices[19].at));
  });
});
