// No address the node cannot be reached on is shown: the desktop UI's "reachable on" line and the phone page's
// other addresses name only those the node listens on and reached itself on.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from '../helpers/test-node.js';
import { fakeInterfaces } from '../integration/network-helpers.js';
import { chromiumSkipReason, PHONE, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

// 127.0.0.20 and ::1 are on lo (the node reaches itself there); 192.0.2.1 and 2001:db8::7 are documentation
// addresses this machine does not have; fe80::1 is link-local (needs a zone: never offered).
const OFFERED = ['127.0.0.20', '::1'];
const NOT_OFFERED = ['192.0.2.1', '2001:db8::7', 'fe80::1'];

describe('only reachable addresses are shown (Chromium)', { skip }, () => {
  const browser = useChromium();
  let node: TestNode;

  before(async () => {
    const ifaces = fakeInterfaces({ eth0: ['127.0.0.20', '192.0.2.1', '::1', '2001:db8::7'], eth1: ['fe80::1'] });
    node = await startTestNode({ host: undefined, port: 0, networkInterfaces: ifaces.table });
  });

  test("the desktop UI's footer names only the addresses the node is reachable on", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(node.adminUrl);
    const line = page.locator('#lan-addresses').filter({ hasText: 'reachable on' });
    await line.waitFor(WAIT);
    const text = (await line.textContent()) ?? '';
    for (const a of OFFERED) assert.ok(text.includes(a), `${a} in "${text}"`);
    for (const a of NOT_OFFERED) assert.ok(!text.includes(a), `${a} not in "${text}"`);
    await ctx.close();
  });

  test("the phone page's other addresses are the reachable ones", async () => {
    const start = await node.startPairing();
    const hosts = start.candidate_urls.map((u) => new URL(u).hostname.replace(/^\[|\]$/g, ''));
    assert.deepEqual(hosts, OFFERED);
    const u = new URL(start.url);
    const ctx = await browser.newContext(PHONE);
    const phone = await ctx.newPage();
    await phone.goto(new URL(u.pathname + u.search, node.base).toString());
    const section = phone.getByTestId('phone-candidate-urls');
    await section.waitFor({ state: 'visible', ...WAIT });
    await section.locator('summary').click();
    const links = section.locator('[data-testid="phone-candidate-url"] a');
    await links.first().waitFor({ state: 'visible', ...WAIT });
    const shown = await links.evaluateAll((as) => as.map((a) => new URL((a as HTMLAnchorElement).href).hostname));
    assert.deepEqual(shown.map((h) => h.replace(/^\[|\]$/g, '')).sort(), [...OFFERED].sort());
    await ctx.close();
  });
});
