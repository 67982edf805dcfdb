// What a paired device hears on its event socket when something it shows changes: its desktop renamed (a `node`
// frame with the new name), the directory changed (a device paired, a home desktop renamed over the peer link:
// `directory_changed`), and after a reconnect the `hello` carries the desktop as it is now.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { DeviceHelloFrame, DeviceNodeFrame } from '../../src/shared/wire/device-events.js';
import { MessagingDirectory } from '../../src/shared/wire/relay.js';
import { linkUp, pairedDesktops } from '../helpers/peer-link-helpers.js';
import { cleanupAll, eventually, pairPhone, startTestNode } from '../helpers/test-node.js';

after(cleanupAll);

type Paired = Awaited<ReturnType<typeof pairPhone>>;

/** A signed device WebSocket that records every frame (after its hello). */
async function deviceSocket(p: Paired) {
  const frames: { type?: string; [k: string]: unknown }[] = [];
  const ws = new WebSocket(p.client.webSocketUrl('/api/device/events'));
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const hello = DeviceHelloFrame.parse(await eventually(() => frames.find((f) => f.type === 'hello'), 'the hello frame'));
  return {
    hello,
    frames,
    of: (type: string) => frames.filter((f) => f.type === type),
    close: () => ws.close(),
  };
}

describe('device socket pushes', () => {
  test('a rename reaches every open device socket as a node frame, and the directory as directory_changed', async () => {
    const node = await startTestNode();
    const one = await pairPhone(node);
    const two = await pairPhone(node);
    const a = await deviceSocket(one);
    const b = await deviceSocket(two);
    assert.equal(a.hello.desktop_node.name, node.identity.name);

    const r = await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Attic PC' } });
    assert.equal(r.status, 200);
    for (const s of [a, b]) {
      const frame = DeviceNodeFrame.parse(await eventually(() => s.of('node')[0], 'the node frame'));
      assert.equal(frame.desktop_node.name, 'Attic PC');
      assert.equal(frame.desktop_node.node_id, node.identity.node_id);
      await eventually(() => s.of('directory_changed')[0], 'directory_changed after the rename');
    }
    const dir = MessagingDirectory.parse((await one.client.request('GET', '/api/messages/directory')).body);
    assert.equal(dir.nodes.find((n) => n.self)?.name, 'Attic PC');
    assert.ok(dir.devices.filter((d) => d.home === 'local').every((d) => d.node_name === 'Attic PC'));
    a.close();
    b.close();
  });

  test('a phone paired while another listens: the listener hears directory_changed', async () => {
    const node = await startTestNode();
    const one = await pairPhone(node);
    const s = await deviceSocket(one);
    const before = s.of('directory_changed').length;
    await pairPhone(node);
    await eventually(() => s.of('directory_changed').length > before, 'directory_changed after a new phone paired');
    const dir = MessagingDirectory.parse((await one.client.request('GET', '/api/messages/directory')).body);
    assert.equal(dir.devices.filter((d) => d.home === 'local' && d.kind === 'phone').length, 2);
    s.close();
  });

  test('a home desktop renamed over the peer link: the phone hears directory_changed and the directory has the name', async () => {
    const { a, b } = await pairedDesktops();
    await linkUp(a, b);
    const phone = await pairPhone(a);
    const s = await deviceSocket(phone);
    const before = s.of('directory_changed').length;
    const r = await b.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Garage PC' } });
    assert.equal(r.status, 200);
    await eventually(() => s.of('directory_changed').length > before, 'directory_changed after the peer renamed');
    await eventually(async () => {
      const dir = MessagingDirectory.parse((await phone.client.request('GET', '/api/messages/directory')).body);
      return dir.nodes.find((n) => n.node_id === b.identity.node_id)?.name === 'Garage PC';
    }, 'the directory names the peer by its new name');
    assert.equal(s.of('node').length, 0, 'the peer rename is not this phone desktop renamed');
    s.close();
  });

  test('renamed while the phone had no socket: the hello of its next socket has the new name', async () => {
    const node = await startTestNode();
    const phone = await pairPhone(node);
    const first = await deviceSocket(phone);
    first.close();
    await eventually(() => node.core.deviceSockets.count() === 0, 'the socket is gone');
    await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Porch PC' } });
    const next = await deviceSocket(phone);
    assert.equal(next.hello.desktop_node.name, 'Porch PC');
    next.close();
  });
});
