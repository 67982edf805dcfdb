// The desktop UI's "Network" panel against a real node whose interface table is made up (so the test is the
// same on every machine and never depends on the real network): interfaces with their kinds, which are
// advertised, the port, reachability of each advertised address, mDNS state, firewall hints; choosing the
// interfaces saves the settings; and the panel stays usable when the node has no diagnostics endpoint.

import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { eventually, makePhone, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

function v4(address: string, internal = false): NetworkInterfaceInfo {
  return { address, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal, cidr: `${address}/24` };
}
function v6(address: string): NetworkInterfaceInfo {
  return {
    address,
    netmask: 'ffff:ffff:ffff:ffff::',
    family: 'IPv6',
    mac: '02:00:00:00:00:01',
    internal: false,
    cidr: `${address}/64`,
    scopeid: 2,
  };
}

/**
 * A made-up machine: "eth0" is a LAN interface whose address is really loopback (so the reachability check of
 * it succeeds), "wlan0" a LAN interface on a documentation network nobody answers on, plus a VPN, a container
 * bridge and loopback.
 */
const FAKE_INTERFACES = {
  lo: [v4('127.0.0.1', true)],
  eth0: [v4('127.0.0.1'), v6('fe80::1')],
  wlan0: [v4('198.51.100.7')],
  tun0: [v4('10.200.0.2')],
  docker0: [v4('172.17.0.1')],
};

describe('desktop UI: the Network panel (Chromium)', { skip }, () => {
  const browser = useChromium();
  let node: TestNode;

  before(async () => {
    node = await startTestNode({ networkInterfaces: () => FAKE_INTERFACES });
  });

  const collectErrors = (page: Page) => collectPageErrors(page, { console: true });

  async function openPanel(page: Page): Promise<void> {
    await page.goto(node.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await page.getByTestId('open-network').click();
    await page.getByTestId('network-panel').waitFor({ state: 'visible', ...WAIT });
  }

  const iface = (page: Page, name: string) => page.locator(`[data-testid="network-interface"][data-interface="${name}"]`);

  test('lists the interfaces with their kinds, the port, reachability, mDNS and firewall hints', async () => {
    const ctx = await browser.newContext({ viewport: { width: 420, height: 900 } });
    const page = await ctx.newPage();
    const errors = collectErrors(page);
    await openPanel(page);

    const diag = (await node.admin('/api/node/diagnostics')).body;
    assert.ok(Array.isArray(diag.interfaces), JSON.stringify(diag));

    for (const name of ['eth0', 'wlan0', 'tun0', 'docker0', 'lo']) await iface(page, name).waitFor(WAIT);
    assert.equal(await iface(page, 'eth0').getAttribute('data-kind'), 'lan');
    assert.equal(await iface(page, 'tun0').getAttribute('data-kind'), 'vpn');
    assert.equal(await iface(page, 'docker0').getAttribute('data-kind'), 'container');
    assert.equal(await iface(page, 'lo').getAttribute('data-kind'), 'loopback');
    await iface(page, 'tun0').filter({ hasText: 'VPN' }).waitFor(WAIT);
    await iface(page, 'wlan0').filter({ hasText: '198.51.100.7' }).waitFor(WAIT);
    // Automatic: LAN and VPN interfaces are advertised, containers and loopback are not.
    assert.equal(await page.getByTestId('network-auto').isChecked(), true);
    assert.equal(await iface(page, 'eth0').getByTestId('interface-advertised').isChecked(), true);
    assert.equal(await iface(page, 'tun0').getByTestId('interface-advertised').isChecked(), true);
    assert.equal(await iface(page, 'docker0').getByTestId('interface-advertised').isChecked(), false);
    assert.equal(await iface(page, 'lo').getByTestId('interface-advertised').isDisabled(), true, 'loopback cannot be advertised');

    assert.equal(await page.getByTestId('network-port').textContent(), String(node.port));
    assert.match((await page.getByTestId('network-listen').textContent()) ?? '', /127\.0\.0\.1/);

    // Reachability: one row per address the node checked; the loopback-backed "LAN" address answers, the
    // documentation-network one does not, and says why.
    const reach = page.getByTestId('network-reach');
    await eventually(
      async () => (await reach.count()) === diag.reachability.length && diag.reachability.length > 0,
      'one reachability row per checked address',
      WAIT.timeout,
    );
    await page
      .locator('[data-testid="network-reach"][data-address="127.0.0.1"][data-ok="true"]')
      .filter({ hasText: 'reachable' })
      .waitFor(WAIT);
    await page
      .locator('[data-testid="network-reach"][data-address="198.51.100.7"][data-ok="false"]')
      .filter({ hasText: /not reachable: \S/ })
      .waitFor(WAIT);

    await page.getByTestId('network-mdns').filter({ hasText: /^Off/ }).waitFor(WAIT);
    // Firewall hints: this person's OS (Linux under the test browser) shown, the others folded away.
    await page
      .locator('[data-testid="firewall-hint"][data-os="linux"]')
      .first()
      .waitFor({ state: 'visible', ...WAIT });
    await page.getByTestId('firewall-other').waitFor(WAIT);
    assert.equal(await page.locator('[data-testid="firewall-other"] [data-testid="firewall-hint"][data-os="windows"]').isVisible(), false);
    await page.getByTestId('firewall-other').locator('summary').click();
    await page
      .locator('[data-testid="firewall-other"] [data-testid="firewall-hint"][data-os="windows"]')
      .waitFor({ state: 'visible', ...WAIT });

    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth),
      'no sideways scrolling at a narrow width',
    );

    // "Check again" asks at once (the panel does not depend on it: it keeps itself up to date).
    let calls = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/node/diagnostics') calls++;
    });
    await page.getByTestId('network-refresh').click();
    await page
      .getByTestId('network-updated')
      .filter({ hasText: /Checked at/ })
      .waitFor(WAIT);
    await eventually(() => calls >= 1, '"Check again" fetched the diagnostics again', WAIT.timeout);

    assert.deepEqual(errors, [], 'no errors in the page');
    await ctx.close();
  });

  test('unticking an interface saves the choice; "Automatic" goes back to null', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await openPanel(page);
    const box = iface(page, 'wlan0').getByTestId('interface-advertised');
    await box.waitFor(WAIT);
    assert.equal(await box.isChecked(), true);

    await box.uncheck();
    const saved = await eventually(
      async () => {
        const s = (await node.admin('/api/admin/settings')).body;
        return Array.isArray(s.interfaces) && !s.interfaces.includes('wlan0') ? s : undefined;
      },
      'the settings no longer list wlan0',
      WAIT.timeout,
    );
    assert.deepEqual([...saved.interfaces].sort(), ['eth0', 'tun0'], 'the other advertised interfaces stay chosen');
    // The node applies it: wlan0 is no longer advertised, and the panel says so after its reload.
    await page.locator('[data-testid="network-interface"][data-interface="wlan0"][data-advertised="false"]').waitFor(WAIT);
    await page.getByTestId('network-saved').filter({ hasText: /Saved/ }).waitFor(WAIT);
    assert.equal(await page.getByTestId('network-auto').isChecked(), false);
    const state = (await node.admin('/api/admin/state')).body;
    assert.equal(state.lan_addresses.find((a: { address: string }) => a.address === '198.51.100.7')?.advertised, false);

    // A container bridge can be chosen too.
    await iface(page, 'docker0').getByTestId('interface-advertised').check();
    await eventually(
      async () => (await node.admin('/api/admin/settings')).body.interfaces?.includes('docker0'),
      'docker0 chosen',
      WAIT.timeout,
    );
    await page.locator('[data-testid="network-interface"][data-interface="docker0"][data-advertised="true"]').waitFor(WAIT);

    // Back to automatic.
    await page.getByTestId('network-auto').check();
    await eventually(
      async () => (await node.admin('/api/admin/settings')).body.interfaces === null,
      'settings back to automatic (null)',
      WAIT.timeout,
    );
    await page.locator('[data-testid="network-interface"][data-interface="wlan0"][data-advertised="true"]').waitFor(WAIT);
    await page.locator('[data-testid="network-interface"][data-interface="docker0"][data-advertised="false"]').waitFor(WAIT);

    // Listening only on the chosen interfaces is saved and waits for a restart (the test node keeps its host).
    await page.getByTestId('network-listen-advertised').check();
    await eventually(async () => (await node.admin('/api/admin/settings')).body.listen === 'advertised', 'listen saved', WAIT.timeout);
    await page.getByTestId('network-listen-pending').waitFor(WAIT);
    assert.equal((await node.admin('/api/admin/settings')).body.interfaces, null, 'the interface choice is kept');
    await page.getByTestId('network-listen-advertised').uncheck();
    await eventually(async () => (await node.admin('/api/admin/settings')).body.listen === 'all', 'listen back to all', WAIT.timeout);
    await ctx.close();
  });

  test('stays true without any button: a newly paired device, a changed interface choice, and a fresh check while open', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const errors = collectErrors(page);
    await openPanel(page);
    await page.locator('[data-testid="network-interface"][data-interface="wlan0"][data-advertised="true"]').waitFor(WAIT);
    let clicks = 0;
    await page.exposeFunction('__countClick', () => clicks++);
    await page.evaluate(() =>
      document.addEventListener('click', () => (window as unknown as { __countClick: () => void }).__countClick(), true),
    );

    // A phone pairs while the panel is open: its row appears (the state push says the devices changed).
    const { phone } = await pairPhone(node, { phone: makePhone('Network Panel Phone') });
    const peer = page.locator(`[data-testid="network-peer"][data-node-id="${phone.identity.node_id}"]`);
    await peer.filter({ hasText: 'Network Panel Phone' }).filter({ hasText: 'Phone' }).waitFor(WAIT);

    // The interface choice changes elsewhere (another window, the API): the panel follows.
    assert.equal((await node.admin('/api/admin/settings', { method: 'PUT', body: { interfaces: ['eth0', 'tun0'] } })).status, 200);
    await page.locator('[data-testid="network-interface"][data-interface="wlan0"][data-advertised="false"]').waitFor(WAIT);
    await page.locator('[data-testid="network-interface"][data-interface="eth0"][data-advertised="true"]').waitFor(WAIT);
    assert.equal(await page.getByTestId('network-auto').isChecked(), false);
    assert.equal((await node.admin('/api/admin/settings', { method: 'PUT', body: { interfaces: null } })).status, 200);
    await page.locator('[data-testid="network-interface"][data-interface="wlan0"][data-advertised="true"]').waitFor(WAIT);
    await page.getByTestId('network-auto').and(page.locator(':checked')).waitFor(WAIT);

    // And it checks again by itself while open, with nothing happening.
    let calls = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/node/diagnostics') calls++;
    });
    await eventually(() => calls >= 2, 'the open panel asked for the diagnostics again by itself', WAIT.timeout);
    assert.equal(clicks, 0, 'no button was pressed');

    // Closed: it stops asking.
    await page.getByTestId('open-network').click();
    await page.getByTestId('network-panel').waitFor({ state: 'detached', ...WAIT });
    assert.deepEqual(errors, [], 'no errors in the page');
    await ctx.close();
  });

  test('without the diagnostics and settings endpoints (an older node), the panel still opens and explains', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const errors = collectErrors(page);
    const gone = { status: 404, contentType: 'application/json', body: JSON.stringify({ error: 'not_found', message: 'Not found.' }) };
    await page.route('**/api/node/diagnostics', (r) => r.fulfill(gone));
    await page.route('**/api/admin/settings', (r) => r.fulfill(gone));
    await openPanel(page);
    await page
      .getByTestId('network-unavailable')
      .filter({ hasText: /does not report network diagnostics/ })
      .waitFor(WAIT);
    // The addresses from the admin state are still listed; nothing can be changed.
    await iface(page, 'wlan0').waitFor(WAIT);
    assert.equal(await iface(page, 'wlan0').getByTestId('interface-advertised').isDisabled(), true);
    assert.equal(await page.getByTestId('network-auto').isVisible(), false);
    await page.getByTestId('error-banner').waitFor({ state: 'hidden', ...WAIT });
    assert.deepEqual(errors, []);
    await ctx.close();
  });
});
