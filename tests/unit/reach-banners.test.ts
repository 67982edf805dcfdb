// The banners above the conversation: this page's node offline; the selected recipient's desktop offline
// (the message waits, or goes through the cloud when that is its route now); never a refusal for a home
// device because there is no cloud.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cloudHint, reachBanners } from '../../src/renderer/src/common/reach-banners.js';
import { fakeDirectory } from './fixtures/fake-directory.js';

const texts = (input: Parameters<typeof reachBanners>[0]) => reachBanners(input).map((b) => `${b.kind}: ${b.text}`);

describe('reach banners', () => {
  test('nothing to say for an online recipient with the node reachable', () => {
    for (const selected of ['phone-zed', 'phone-study'])
      assert.deepEqual(texts({ dir: fakeDirectory(), selected, nodeReachable: true, place: 'phone' }), []);
  });

  test("the recipient's desktop offline: the message waits for it", () => {
    assert.deepEqual(texts({ dir: fakeDirectory(), selected: 'phone-attic', nodeReachable: true, place: 'phone' }), [
      'recipient-offline: Attic PC is offline: your message will wait and go when it is back.',
    ]);
  });

  test("the recipient's desktop offline but its route is the cloud now: it goes through the cloud", () => {
    const dir = fakeDirectory({ cloud: { status: 'connected' } });
    dir.devices = dir.devices.map((d) => (d.device_id === 'phone-attic' ? { ...d, route: 'cloud' as const } : d));
    assert.deepEqual(texts({ dir, selected: 'phone-attic', nodeReachable: true, place: 'phone' }), [
      'recipient-offline: Attic PC is offline: your message will go through the cloud.',
    ]);
  });

  test("this page's node offline: said with the desktop's name on a phone, plainly on the desktop", () => {
    assert.deepEqual(texts({ dir: fakeDirectory(), selected: 'phone-zed', nodeReachable: false, place: 'phone' }), [
      'node-offline: Living room PC is offline: your messages wait on this phone and go when it is back.',
    ]);
    assert.deepEqual(texts({ dir: undefined, selected: undefined, nodeReachable: false, place: 'desktop' }), [
      'node-offline: Salita on this desktop cannot be reached: your messages wait here and go when it is back.',
    ]);
  });

  test("both at once: this node and the recipient's desktop", () => {
    assert.deepEqual(
      reachBanners({ dir: fakeDirectory(), selected: 'phone-attic', nodeReachable: false, place: 'phone' }).map((b) => b.kind),
      ['node-offline', 'recipient-offline'],
    );
  });

  test('no cloud: home devices get no refusal; only a device at another home is said to be out of reach', () => {
    const dir = fakeDirectory({ cloud: { status: 'not_configured' } });
    for (const selected of ['phone-zed', 'phone-study', 'node-living.ui'])
      assert.deepEqual(texts({ dir, selected, nodeReachable: true, place: 'phone' }), [], selected);
    assert.match(
      texts({ dir, selected: 'phone-far', nodeReachable: true, place: 'phone' })[0] ?? '',
      /^cloud-away: Grandma phone is at another home/,
    );
    assert.match(
      texts({ dir: fakeDirectory({ cloud: { status: 'reconnecting' } }), selected: 'phone-far', nodeReachable: true, place: 'phone' })[0] ??
        '',
      /will wait and go when it is back/,
    );
  });

  test('the cloud hint never refuses: home devices are reached directly', () => {
    for (const status of ['not_configured', 'logged_out', 'reconnecting', 'connected'] as const) {
      const hint = cloudHint(fakeDirectory({ cloud: { status } }));
      assert.match(hint, /^Devices of this home are reached directly/, status);
      assert.doesNotMatch(hint, /not connected to a cloud/i, status);
    }
  });
});
