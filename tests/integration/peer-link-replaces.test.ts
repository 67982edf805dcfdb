// Which ids a re-paired device replaced, told over the peer link (docs/protocol.md "Peer link"), so that a phone
// at another desktop of the home sees "safety number changed", not a stranger. Only between nodes that both say
// they speak it: an older node (no features in its query, or in its hello) gets frames exactly as before, which
// its strict parser takes. A desktop may name old ids of its own devices only, never a device served now.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { HelloFrame } from '../../src/shared/wire/peer-link.js';
import { device, FAST_PEER_LINK, FakeRouterPort, fakeDesktop, linkUp, pairDesktops, rawPeer } from '../helpers/peer-link-helpers.js';
import { cleanupAll, eventually, pairPhone, startTestNode } from '../helpers/test-node.js';
import { customPhone } from './network-helpers.js';

after(cleanupAll);

async function target() {
  const router = new FakeRouterPort();
  router.devices = [device('own-phone-new'), device('own-tablet')];
  router.replacements = new Map([['own-phone-new', ['own-phone-old', 'own-phone-older']]]);
  const node = await startTestNode({ peerLink: FAST_PEER_LINK, peerLinkRouter: router });
  return { node, router };
}

const helloOf = (frames: { type: string }[]) => HelloFrame.parse(frames.find((f) => f.type === 'hello'));

describe('replaced ids over the peer link', () => {
  test('an older dialer (no features named) gets the hello as before: no features, no replaces', async () => {
    const { node, router } = await target();
    const peer = await rawPeer(node, await fakeDesktop(node), { features: [] });
    await peer.hello([]);
    const hello = helloOf(peer.frames) as Record<string, unknown> & ReturnType<typeof helloOf>;
    assert.equal('features' in hello, false);
    for (const d of hello.devices) assert.equal('replaces' in d, false, `${d.device_id} as an older node expects it`);
    // Nor in a later directory frame (a device paired meanwhile).
    router.setDevices([...router.devices, device('own-laptop')]);
    const later = await eventually(() => peer.frames.find((f) => f.type === 'directory'), 'a directory frame');
    assert.equal(later.type === 'directory' && later.devices.length, 3);
    for (const d of later.type === 'directory' ? later.devices : []) assert.equal('replaces' in d, false);
  });

  test('a dialer that names the feature is told ours, and the ids each device replaced', async () => {
    const { node } = await target();
    const peer = await rawPeer(node, await fakeDesktop(node), { features: ['replaces', 'something-new'] });
    await peer.hello([]);
    const hello = helloOf(peer.frames);
    assert.ok(hello.features?.includes('replaces'), 'the listener names the feature');
    assert.equal(hello.features?.includes('something-new'), false, 'and never one it does not speak');
    assert.deepEqual(hello.devices.find((d) => d.device_id === 'own-phone-new')?.replaces, ['own-phone-old', 'own-phone-older']);
    assert.equal(hello.devices.find((d) => d.device_id === 'own-tablet')?.replaces, undefined);
  });

  test("a peer's claims: kept for old ids of its own devices, dropped for a device served now (ours, its own, another's)", async () => {
    const { node } = await target();
    const other = await fakeDesktop(node, 'Other desktop');
    const otherPeer = await rawPeer(node, other);
    await otherPeer.hello([device('other-phone')]);
    const me = await fakeDesktop(node);
    const peer = await rawPeer(node, me);
    await peer.hello([
      { ...device('peer-phone'), replaces: ['peer-phone-old', 'own-tablet', 'other-phone', 'peer-tablet'] },
      device('peer-tablet'),
    ]);
    const home = node.core.peerLinks!.homeDirectory;
    const announced = await eventually(
      () =>
        home
          .nodes()
          .find((n) => n.node_id === me.nodeId)
          ?.devices.find((d) => d.device_id === 'peer-phone'),
      "the peer's phone is in the home directory",
    );
    assert.deepEqual(announced.replaces, ['peer-phone-old'], 'only the id nobody serves now');
  });

  test('two real desktops: a phone re-paired at A is, for a phone at B, the device it replaced', async () => {
    const a = await startTestNode({ peerLink: FAST_PEER_LINK });
    const b = await startTestNode({ peerLink: FAST_PEER_LINK });
    await pairDesktops(a, b);
    await linkUp(a, b);
    const watcher = await pairPhone(b, { phone: customPhone({ name: 'Watcher', platform: 'ios' }) });
    const v1 = await pairPhone(a, { phone: customPhone({ name: 'Ben phone', platform: 'web' }) });
    const v2 = await pairPhone(a, { phone: customPhone({ name: 'Ben phone', platform: 'web' }) });
    const ben = await eventually(async () => {
      const dir = (await watcher.client.request('GET', '/api/messages/directory')).body;
      return dir.devices.find((d: { device_id: string }) => d.device_id === v2.phone.identity.node_id);
    }, "the re-paired phone in B's directory");
    assert.equal(ben.home, 'home');
    assert.deepEqual(ben.replaces, [v1.phone.identity.node_id]);
  });
});
