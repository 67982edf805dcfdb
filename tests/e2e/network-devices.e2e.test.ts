// The device list on a real home network: "last seen" in words that age on their own (no refetch), a phone that
// pairs again after a reinstall replaces its old row with a dismissible note, and the phone page lists every
// address of the desktop for a phone on another subnet or interface.

import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { eventually, makePhone, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, PHONE, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

function v4(address: string, internal = false): NetworkInterfaceInfo {
  return { address, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal, cidr: `${address}/24` };
}

describe("desktop UI: presence, re-pair notices, and the phone's other addresses (Chromium)", { skip }, () => {
  const browser = useChromium();
  let node: TestNode;

  before(async () => {
    // Two LAN interfaces (and a container bridge that is not advertised) on a made-up machine, listened on; the
    // made-up addresses are not on this machine, so the self-connection check is stood in for.
    node = await startTestNode({
      host: '0.0.0.0',
      reachability: async (addresses) => addresses.map((address) => ({ address, ok: true })),
      networkInterfaces: () => ({
        lo: [v4('127.0.0.1', true)],
        eth0: [v4('192.168.50.10')],
        wlan0: [v4('10.20.30.40')],
        docker0: [v4('172.17.0.1')],
      }),
    });
  });

  async function openDesktop(): Promise<Page> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    return page;
  }

  test('"last seen" is in words and ages every 30 s without asking the node again', async () => {
    const page = await openDesktop();
    // The page's clock is the test's to move; the node's clock is real.
    await page.clock.install();
    await page.goto(node.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    const { phone } = await pairPhone(node, { phone: makePhone('Hallway Phone') });
    const row = page.locator(`[data-testid="device-row"][data-node-id="${phone.identity.node_id}"]`);
    await row.getByTestId('last-seen').filter({ hasText: 'last seen just now' }).waitFor(WAIT);
    assert.equal(await row.getAttribute('data-status'), 'online');

    let stateFetches = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/admin/state') stateFetches++;
    });
    await page.clock.fastForward('02:05');
    await row.getByTestId('last-seen').filter({ hasText: 'last seen 2 minutes ago' }).waitFor(WAIT);
    await page.clock.fastForward('58:00');
    await row
      .getByTestId('last-seen')
      .filter({ hasText: /last seen (an hour ago|yesterday)/ })
      .waitFor(WAIT); // yesterday: run just before midnight
    assert.equal(stateFetches, 0, 'the wording is recomputed locally');
    await page.context().close();
  });

  test('a degraded device is shown as such', async () => {
    const quick = await startTestNode({ timings: { offlineAfterMs: 6_000 } });
    const page = await openDesktop();
    await page.goto(quick.adminUrl);
    const { phone } = await pairPhone(quick, { phone: makePhone('Flaky Phone') });
    const row = page.locator(`[data-testid="device-row"][data-node-id="${phone.identity.node_id}"]`);
    await row.waitFor(WAIT);
    // Silent for more than half of offlineAfterMs: degraded, then offline (the node pushes the changes).
    await page
      .locator(`[data-testid="device-row"][data-node-id="${phone.identity.node_id}"][data-status="degraded"]`)
      .filter({ hasText: 'Degraded' })
      .waitFor(WAIT);
    const color = await row.locator('[data-role="status"]').evaluate((el) => getComputedStyle(el).color);
    const online = await page.evaluate(() => {
      const probe = document.createElement('span');
      probe.className = 'status';
      probe.dataset.status = 'online';
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    assert.notEqual(color, online, 'degraded looks different from online');
    await page.locator(`[data-testid="device-row"][data-node-id="${phone.identity.node_id}"][data-status="offline"]`).waitFor(WAIT);
    await page.context().close();
  });

  test('a phone paired again after a reinstall replaces its row, with a note that can be dismissed', async () => {
    const page = await openDesktop();
    await page.goto(node.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    const first = await pairPhone(node, { phone: makePhone('Kitchen Phone') });
    await page.locator(`[data-testid="device-row"][data-node-id="${first.phone.identity.node_id}"]`).waitFor(WAIT);

    // "Reinstalled": a new key and node id, same name and platform.
    const again = await pairPhone(node, { phone: makePhone('Kitchen Phone') });
    await page.locator(`[data-testid="device-row"][data-node-id="${again.phone.identity.node_id}"]`).waitFor(WAIT);
    await page
      .locator(`[data-testid="device-row"][data-node-id="${first.phone.identity.node_id}"]`)
      .waitFor({ state: 'detached', ...WAIT });
    assert.equal(await page.getByTestId('device-row').filter({ hasText: 'Kitchen Phone' }).count(), 1, 'never two rows for one device');

    const notice = page
      .getByTestId('notice')
      .filter({ hasText: 'Kitchen Phone was paired again (reinstalled?): the old entry was replaced.' });
    await notice.waitFor(WAIT);
    const id = await notice.getAttribute('data-notice-id');
    assert.ok(id);
    await notice.getByTestId('notice-dismiss').click();
    await notice.waitFor({ state: 'detached', ...WAIT });
    await eventually(
      async () => !(await node.admin('/api/admin/state')).body.notices.some((n: { id: string }) => n.id === id),
      'the node forgot the notice',
      WAIT.timeout,
    );
    // Still gone after the next state push, and after a reload.
    await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Kitchen Desk' } });
    await page.getByTestId('node-name').filter({ hasText: 'Kitchen Desk' }).waitFor(WAIT);
    await page.reload();
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    assert.equal(await page.getByTestId('notice').count(), 0);
    await page.context().close();
  });

  test('the phone page lists every address of the desktop, each linking to the same pairing page', async () => {
    const start = await node.startPairing();
    const { urls } = (await fetch(`${node.base}/api/node/addresses`).then((r) => r.json())) as { urls: string[] };
    assert.deepEqual([...urls].sort(), [`http://10.20.30.40:${node.port}`, `http://192.168.50.10:${node.port}`]);
    const u = new URL(start.url);
    const ctx = await browser.newContext(PHONE);
    const phone = await ctx.newPage();
    await phone.goto(new URL(u.pathname + u.search, node.base).toString());
    const section = phone.getByTestId('phone-candidate-urls');
    await section.waitFor({ state: 'visible', ...WAIT });
    assert.equal(await section.getAttribute('open'), null, 'folded until asked for');
    await section.locator('summary').filter({ hasText: 'Other addresses of this desktop' }).click();
    const links = section.locator('[data-testid="phone-candidate-url"] a');
    await links.first().waitFor({ state: 'visible', ...WAIT });
    const hrefs = await links.evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    assert.deepEqual(hrefs.map((x) => new URL(x).origin).sort(), [...urls].sort());
    for (const href of hrefs) {
      const h = new URL(href);
      assert.equal(h.pathname, '/pair');
      assert.equal(h.searchParams.get('code'), u.searchParams.get('code'), 'each link keeps the pairing code');
      assert.equal(h.searchParams.get('fp'), u.searchParams.get('fp'));
    }
    // The pairing form still works as before.
    await phone.getByTestId('phone-pin').waitFor({ state: 'visible', ...WAIT });
    await ctx.close();
  });
});
