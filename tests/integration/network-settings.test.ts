// Which interfaces are advertised. Classification by name, the settings file (round trip, restart,
// corrupt file), and what pair/start, /api/node/addresses and mDNS offer under each setting.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { interfaceKind, lanAddresses } from '../../src/main/core/net/lan-addresses.js';
import { cleanupAll, eventually, pairPhone, startTestNode, tempDir } from '../helpers/test-node.js';
import { everyAddressAnswers, FakeDiscovery, fakeInterfaces } from './network-helpers.js';

after(cleanupAll);

const hostOf = (url: string) => new URL(url).hostname.replace(/^\[|\]$/g, '');

describe('interface kinds', () => {
  test('loopback, link-local, container, VPN and LAN are told apart by name and address', () => {
    assert.equal(interfaceKind('lo', '127.0.0.1', true), 'loopback');
    assert.equal(interfaceKind('Loopback Pseudo-Interface 1', '::1', true), 'loopback');
    assert.equal(interfaceKind('eth0', '169.254.10.20'), 'link-local');
    assert.equal(interfaceKind('en0', 'fe80::1'), 'link-local');
    assert.equal(interfaceKind('en0', 'FEBF::1'), 'link-local');
    for (const name of [
      'docker0',
      'br-0a1b2c',
      'veth12ab',
      'virbr0',
      'lxcbr0',
      'lxdbr0',
      'cni0',
      'podman0',
      'vmnet8',
      'vboxnet0',
      'flannel.1',
      'cali123',
    ]) {
      assert.equal(interfaceKind(name, '172.17.0.1'), 'container', name);
    }
    for (const name of ['tun0', 'tap0', 'wg0', 'utun3', 'tailscale0', 'zt7nnig26', 'ppp0', 'ipsec0', 'nordlynx']) {
      assert.equal(interfaceKind(name, '10.8.0.2'), 'vpn', name);
    }
    for (const name of ['eth0', 'wlan0', 'en0', 'enp3s0', 'wlp2s0', 'br0', 'Ethernet 2', 'Wi-Fi']) {
      assert.equal(interfaceKind(name, '192.168.1.20'), 'lan', name);
    }
  });

  test('by default LAN and VPN addresses are advertised; a chosen list advertises exactly those interfaces', () => {
    const { table } = fakeInterfaces({
      eth0: ['192.168.1.20', 'fe80::2'],
      docker0: ['172.17.0.1'],
      wg0: ['10.6.0.3'],
      eth1: ['169.254.3.4'],
    });
    const auto = lanAddresses(table(), null);
    assert.ok(!auto.some((a) => a.kind === 'loopback'), 'loopback is not a LAN address');
    assert.ok(!auto.some((a) => a.address === 'fe80::2'), 'IPv6 link-local is not listed');
    const adv = (list: typeof auto) =>
      list
        .filter((a) => a.advertised)
        .map((a) => a.address)
        .sort();
    assert.deepEqual(adv(auto), ['10.6.0.3', '192.168.1.20']);
    assert.equal(auto.find((a) => a.address === '169.254.3.4')?.kind, 'link-local');
    assert.deepEqual(adv(lanAddresses(table(), ['docker0'])), ['172.17.0.1']);
    assert.deepEqual(adv(lanAddresses(table(), ['eth0', 'eth1'])), ['192.168.1.20'], 'link-local is never advertised, even when chosen');
    assert.deepEqual(adv(lanAddresses(table(), [])), []);
  });
});

describe('settings', () => {
  test('GET/PUT round trip, persisted in the data dir and kept across a restart', async () => {
    const dataDir = tempDir();
    const ifaces = fakeInterfaces({ eth0: ['192.168.1.20'], wlan0: ['192.168.1.21'] });
    const node = await startTestNode({ dataDir, networkInterfaces: ifaces.table, host: '0.0.0.0', reachability: everyAddressAnswers });
    assert.deepEqual((await node.admin('/api/admin/settings')).body, { interfaces: null, listen: 'all' });
    const put = await node.admin('/api/admin/settings', { method: 'PUT', body: { interfaces: ['wlan0', 'wlan9'] } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body, { interfaces: ['wlan0', 'wlan9'], listen: 'all' });
    assert.deepEqual((await node.admin('/api/admin/settings')).body, { interfaces: ['wlan0', 'wlan9'], listen: 'all' });
    assert.deepEqual(JSON.parse(readFileSync(join(dataDir, 'settings.json'), 'utf8')).interfaces, ['wlan0', 'wlan9']);

    const state = (await node.admin('/api/admin/state')).body;
    const byAddr = Object.fromEntries(state.lan_addresses.map((a: any) => [a.address, a]));
    assert.equal(byAddr['192.168.1.21'].advertised, true);
    assert.equal(byAddr['192.168.1.21'].kind, 'lan');
    assert.equal(byAddr['192.168.1.20'].advertised, false);
    const diag = (await node.admin('/api/node/diagnostics')).body;
    assert.deepEqual(diag.missing_interfaces, ['wlan9'], 'an unknown interface is kept but reported as absent');

    for (const bad of [{ interfaces: 'wlan0' }, { interfaces: [''] }, { interfaces: [1] }, { other: true }, {}, { listen: 'some' }]) {
      const r = await node.admin('/api/admin/settings', { method: 'PUT', body: bad });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(r.body.error, 'invalid_request');
    }
    assert.deepEqual(
      (await node.admin('/api/admin/settings')).body,
      { interfaces: ['wlan0', 'wlan9'], listen: 'all' },
      'a refused PUT changes nothing',
    );
    const unauth = await fetch(`${node.base}/api/admin/settings`);
    assert.equal(unauth.status, 401);

    await node.stop();
    const again = await startTestNode({ dataDir, networkInterfaces: ifaces.table, host: '0.0.0.0', reachability: everyAddressAnswers });
    assert.deepEqual((await again.admin('/api/admin/settings')).body, { interfaces: ['wlan0', 'wlan9'], listen: 'all' });
    assert.deepEqual((await again.startPairing()).candidate_urls.map(hostOf), ['192.168.1.21']);
    const back = await again.admin('/api/admin/settings', { method: 'PUT', body: { interfaces: null } });
    assert.deepEqual(back.body, { interfaces: null, listen: 'all' });
    assert.deepEqual((await again.startPairing()).candidate_urls.map(hostOf).sort(), ['192.168.1.20', '192.168.1.21']);
  });

  test('listen "advertised": from the next start only loopback and the advertised addresses accept connections', async () => {
    const dataDir = tempDir();
    // 127.0.0.0/8 is all on lo, so these are real, bindable addresses that never leave the machine.
    const ifaces = fakeInterfaces({ eth0: ['127.0.0.3'], wlan0: ['127.0.0.4'] });
    writeFileSync(join(dataDir, 'settings.json'), JSON.stringify({ interfaces: ['eth0'], listen: 'advertised' }));
    const node = await startTestNode({ dataDir, networkInterfaces: ifaces.table, host: undefined, port: 0 });
    const identityAt = async (addr: string) => {
      try {
        const r = await fetch(`http://${addr}:${node.port}/api/node/identity`, { signal: AbortSignal.timeout(5_000) });
        return r.status;
      } catch (err) {
        return ((err as Error).cause as { code?: string } | undefined)?.code ?? 'error';
      }
    };
    assert.equal(await identityAt('127.0.0.1'), 200, 'the desktop UI keeps loopback');
    assert.equal(await identityAt('127.0.0.3'), 200, 'the advertised address');
    assert.equal(await identityAt('127.0.0.4'), 'ECONNREFUSED', 'an interface not chosen');
    const diag = (await node.admin('/api/node/diagnostics')).body;
    assert.deepEqual(diag.listen.addresses, ['127.0.0.1', '127.0.0.3']);
    assert.equal(diag.listen.pending_restart, false);
    const put = await node.admin('/api/admin/settings', { method: 'PUT', body: { listen: 'all' } });
    assert.deepEqual(put.body, { interfaces: ['eth0'], listen: 'all' }, 'a PUT of one field keeps the other');
    assert.equal((await node.admin('/api/node/diagnostics')).body.listen.pending_restart, true, 'applies at the next start');
    assert.equal(await identityAt('127.0.0.4'), 'ECONNREFUSED', 'not before the restart');
  });

  test('a corrupt settings file stops the start with an error naming the file', async () => {
    for (const content of ['{ not json', '{"interfaces": 5}', '[]', '{"interfaces": [""]}', '{"listen": "some"}']) {
      const dataDir = tempDir();
      writeFileSync(join(dataDir, 'settings.json'), content);
      await assert.rejects(
        startTestNode({ dataDir }),
        (err: Error) => {
          assert.equal(err.name, 'SettingsFileError', err.message);
          assert.ok(err.message.includes(join(dataDir, 'settings.json')), err.message);
          return true;
        },
        content,
      );
      assert.equal(readFileSync(join(dataDir, 'settings.json'), 'utf8'), content, "the person's file is left as it was");
    }
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'settings.json'), '{}');
    const node = await startTestNode({ dataDir });
    assert.deepEqual(
      (await node.admin('/api/admin/settings')).body,
      { interfaces: null, listen: 'all' },
      'missing keys take their defaults',
    );
  });
});

describe('what is advertised', () => {
  test('candidate_urls and /api/node/addresses hold only advertised addresses, and follow the settings at once', async () => {
    const ifaces = fakeInterfaces({ eth0: ['192.168.1.20', 'fd00::20', 'fe80::20'], docker0: ['172.17.0.1'], tun0: ['10.8.0.2'] });
    // On every interface, both families (a node bound to one address offers only that one in its pairing URLs).
    const node = await startTestNode({ networkInterfaces: ifaces.table, host: '::', reachability: everyAddressAnswers });
    const start = await node.startPairing();
    assert.deepEqual(start.candidate_urls.map(hostOf), ['192.168.1.20', '10.8.0.2', 'fd00::20']);
    assert.equal(start.url, start.candidate_urls[0]);
    for (const u of start.candidate_urls) assert.match(u, new RegExp(`:${node.port}/pair\\?code=${start.code}&fp=`));

    const pub = await fetch(`${node.base}/api/node/addresses`);
    assert.equal(pub.status, 200, 'public: no admin token needed');
    assert.deepEqual(((await pub.json()) as any).urls, [
      `http://192.168.1.20:${node.port}`,
      `http://10.8.0.2:${node.port}`,
      `http://[fd00::20]:${node.port}`,
    ]);

    assert.equal((await node.admin('/api/admin/settings', { method: 'PUT', body: { interfaces: ['docker0'] } })).status, 200);
    const chosen = await node.startPairing();
    assert.deepEqual(chosen.candidate_urls.map(hostOf), ['172.17.0.1']);
    assert.deepEqual(((await (await fetch(`${node.base}/api/node/addresses`)).json()) as any).urls, [`http://172.17.0.1:${node.port}`]);
    assert.deepEqual(node.core.desktopNode().addresses, ['172.17.0.1'], 'what heartbeats and pairing answers carry');

    // The person may still ask for a QR on any LAN address of this machine; the rest stay advertised ones.
    const asked = await node.admin('/auth/pair/start', { body: { address: '192.168.1.20' } });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    assert.deepEqual(asked.body.candidate_urls.map(hostOf), ['192.168.1.20', '172.17.0.1']);
    assert.equal(hostOf(asked.body.url), '192.168.1.20');
    const foreign = await node.admin('/auth/pair/start', { body: { address: '203.0.113.9' } });
    assert.equal(foreign.status, 400);

    // Nothing advertised: the QR still names the machine by its mDNS host name.
    await node.admin('/api/admin/settings', { method: 'PUT', body: { interfaces: [] } });
    const none = await node.startPairing();
    assert.equal(none.candidate_urls.length, 1);
    assert.match(hostOf(none.url), /\.local$/);
    // Pairing itself does not depend on what is advertised.
    await pairPhone(node, { start: none });
  });

  test('mDNS is told the advertised addresses at start, on a settings change and when interfaces change', async () => {
    const ifaces = fakeInterfaces({ eth0: ['192.168.1.20'], wg0: ['10.6.0.3'] });
    const fake = new FakeDiscovery();
    const node = await startTestNode({
      networkInterfaces: ifaces.table,
      discovery: fake,
      host: '0.0.0.0',
      reachability: everyAddressAnswers,
    });
    assert.equal(fake.running, true);
    assert.deepEqual(fake.addressCalls.at(-1), ['192.168.1.20', '10.6.0.3']);
    await node.admin('/api/admin/settings', { method: 'PUT', body: { interfaces: ['eth0'] } });
    assert.deepEqual(fake.addressCalls.at(-1), ['192.168.1.20']);
    ifaces.spec.eth0 = ['192.168.1.77'];
    await eventually(() => fake.addressCalls.at(-1)?.[0] === '192.168.1.77', 'the new address is re-advertised (3 s poll)');
    const diag = (await node.admin('/api/node/diagnostics')).body;
    assert.equal(diag.mdns.enabled, true);
    assert.equal(diag.mdns.running, true);
    assert.equal(diag.mdns.instance_name, 'Fake (12345678)');
    assert.deepEqual(diag.mdns.advertised_addresses, ['192.168.1.77']);
    await node.stop();
    assert.equal(fake.running, false, 'stopped with the node');
  });
});

describe('only addresses the node can be reached on are offered', () => {
  // 127.0.0.20 and ::1 are on lo, so the node can really reach itself there; 192.0.2.1 and 2001:db8::7 are documentation
  // addresses this machine does not have, so connecting to them never reaches the node.
  const table = () => fakeInterfaces({ eth0: ['127.0.0.20', '192.0.2.1', '::1', '2001:db8::7'], eth1: ['fe80::1'] }).table;
  const offeredBy = async (node: Awaited<ReturnType<typeof startTestNode>>, fake: FakeDiscovery) => {
    const urls = ((await (await fetch(`${node.base}/api/node/addresses`)).json()) as { urls: string[] }).urls;
    const state = (await node.admin('/api/admin/state')).body;
    return {
      candidates: (await node.startPairing()).candidate_urls.map(hostOf),
      addresses: urls.map(hostOf),
      mdns: fake.addressCalls.at(-1),
      desktopNode: node.core.desktopNode().addresses,
      footer: state.lan_addresses.filter((a: any) => a.advertised).map((a: any) => a.address),
    };
  };

  test('a node listening on IPv4 only offers neither IPv6 addresses nor addresses it cannot reach', async () => {
    const fake = new FakeDiscovery();
    const node = await startTestNode({ host: '0.0.0.0', networkInterfaces: table(), discovery: fake });
    const offered = await offeredBy(node, fake);
    for (const [where, list] of Object.entries(offered)) assert.deepEqual(list, ['127.0.0.20'], where);
    // Diagnostics still show every advertised address and why the unreachable one is not offered.
    const reach = (await node.admin('/api/node/diagnostics')).body.reachability;
    assert.equal(reach.find((r: any) => r.address === '192.0.2.1')?.ok, false);
  });

  test('by default the node listens dual stack and offers the IPv6 addresses it can be reached on', async () => {
    const fake = new FakeDiscovery();
    const node = await startTestNode({ host: undefined, port: 0, networkInterfaces: table(), discovery: fake });
    const offered = await offeredBy(node, fake);
    for (const [where, list] of Object.entries(offered)) assert.deepEqual(list, ['127.0.0.20', '::1'], where);
    const ident = await fetch(`http://[::1]:${node.port}/api/node/identity`);
    assert.equal(ident.status, 200, 'the offered IPv6 address answers');
    assert.equal((await node.admin('/api/node/diagnostics')).body.listen.host, '::');
  });
});
