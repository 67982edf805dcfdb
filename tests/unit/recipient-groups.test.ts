// The To list's groups from a directory as the node sends it: this node's devices first ("This desktop" in
// the desktop UI, the desktop's name on a phone), each paired desktop under its current name in the
// directory's order, other homes last; the calling device never lists itself.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { groupRecipients, nodeOfDevice, REMOTE_GROUP_LABEL, recipientLabel } from '../../src/renderer/src/common/recipient-groups.js';
import { fakeDirectory } from './fixtures/fake-directory.js';

const summary = (dir = fakeDirectory(), place: 'phone' | 'desktop' = 'phone') =>
  groupRecipients(dir, place).map((g) => [g.label, g.devices.map((d) => d.device_id)]);

describe('recipient groups', () => {
  test('a phone sees its own desktop by name, then each paired desktop, then other homes; never itself', () => {
    assert.deepEqual(summary(), [
      ['Living room PC', ['phone-ana', 'node-living.ui', 'phone-zed']],
      ['Attic PC (offline)', ['phone-attic']],
      ['Study PC', ['phone-study']],
      [REMOTE_GROUP_LABEL, ['phone-far']],
    ]);
  });

  test('the desktop UI calls its own node "This desktop"', () => {
    const dir = fakeDirectory({ me: 'node-living.ui' });
    const groups = groupRecipients(dir, 'desktop');
    assert.equal(groups[0]!.label, 'This desktop');
    assert.deepEqual(
      groups[0]!.devices.map((d) => d.device_id),
      ['phone-ana', 'phone-me', 'phone-zed'],
    );
    assert.equal(groups[0]!.node_id, 'node-living');
  });

  test("groups follow renames: the node list's current name wins over a stale node_name on a device", () => {
    const dir = fakeDirectory();
    dir.nodes[2] = { ...dir.nodes[2]!, name: 'Office PC' };
    assert.deepEqual(groupRecipients(dir, 'phone').find((g) => g.node_id === 'node-study')?.label, 'Office PC');
  });

  test('offline follows the node list (a desktop whose link is down)', () => {
    const groups = groupRecipients(fakeDirectory(), 'phone');
    assert.equal(groups.find((g) => g.node_id === 'node-attic')?.offline, true);
    assert.equal(groups.find((g) => g.node_id === 'node-study')?.offline, false);
    assert.equal(groups.find((g) => g.key === 'local')?.offline, false);
  });

  test('empty groups are left out (no cloud devices: no "Other homes")', () => {
    const dir = fakeDirectory();
    dir.devices = dir.devices.filter((d) => d.home !== 'remote');
    assert.equal(
      groupRecipients(dir, 'phone').some((g) => g.key === 'remote'),
      false,
    );
  });

  test('a home device whose desktop the node list misses still gets a group by its node_name', () => {
    const dir = fakeDirectory();
    dir.nodes = dir.nodes.filter((n) => n.node_id !== 'node-study');
    const g = groupRecipients(dir, 'phone').find((x) => x.key === 'node:node-study');
    assert.equal(g?.label, 'Study PC');
    assert.equal(g?.offline, false);
  });

  test('nodeOfDevice: local and home devices name their desktop; remote ones have none', () => {
    const dir = fakeDirectory();
    assert.equal(nodeOfDevice(dir, 'phone-attic')?.name, 'Attic PC');
    assert.equal(nodeOfDevice(dir, 'phone-zed')?.self, true);
    assert.equal(nodeOfDevice(dir, 'phone-far'), undefined);
    assert.equal(nodeOfDevice(dir, 'nobody'), undefined);
  });

  test('option labels say what kind of device it is', () => {
    assert.equal(recipientLabel({ name: 'Ana', kind: 'phone' }), 'Ana (phone)');
    assert.equal(recipientLabel({ name: 'Study PC', kind: 'desktop' }), 'Study PC (desktop)');
  });
});
