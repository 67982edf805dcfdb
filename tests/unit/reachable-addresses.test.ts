import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acceptsOn, ReachableAddresses } from '../../src/main/core/net/reachable-addresses.js';

describe('which addresses a listener accepts', () => {
  test(':: takes both families, 0.0.0.0 only IPv4, a chosen address only itself', () => {
    assert.equal(acceptsOn(['::'], '192.168.1.20'), true);
    assert.equal(acceptsOn(['::'], 'fd00::20'), true);
    assert.equal(acceptsOn(['0.0.0.0'], '192.168.1.20'), true);
    assert.equal(acceptsOn(['0.0.0.0'], 'fd00::20'), false);
    assert.equal(acceptsOn(['127.0.0.1', '192.168.1.20'], '192.168.1.20'), true);
    assert.equal(acceptsOn(['127.0.0.1', '192.168.1.20'], '192.168.1.21'), false);
  });
});

describe('the self-reachability cache', () => {
  test('nothing is reachable before a check; a check runs again only when the set changed or when forced', async () => {
    const probed: string[][] = [];
    const answering = new Set(['10.0.0.1']);
    const reach = new ReachableAddresses(async (addresses) => {
      probed.push([...addresses]);
      return addresses.map((address) => ({ address, ok: answering.has(address) }));
    });
    let set = ['10.0.0.1', '10.0.0.2'];
    assert.deepEqual(reach.filter(set), []);
    await reach.refresh(() => set);
    assert.deepEqual(reach.filter(set), ['10.0.0.1']);
    await reach.refresh(() => set);
    assert.equal(probed.length, 1, 'same set: not checked again');
    answering.add('10.0.0.2');
    await reach.refresh(() => set, true);
    assert.deepEqual(reach.filter(set), ['10.0.0.1', '10.0.0.2'], 'forced: a firewall change is seen');
    set = ['10.0.0.3'];
    await Promise.all([reach.refresh(() => set), reach.refresh(() => set)]);
    assert.equal(probed.length, 3, 'two callers at once share one check');
    assert.deepEqual(reach.filter(set), []);
  });
});
