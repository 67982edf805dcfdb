// Accessibility, checked by machine: axe-core runs inside Chromium over each screen of the desktop UI and of
// the phone page, at a 1280x800 desktop and at a 390x844 phone viewport, and no violation of "serious" or
// "critical" impact is allowed (contrast, names of controls, labels, landmarks, ARIA use). axe is evaluated
// through the DevTools protocol, so the pages' strict CSP stays as shipped. Each screen at each size is also
// saved to docs/screenshots/<screen>-<width>.png (linked from the README), so the pictures there are the UI as
// the tests last saw it.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { loopbackUrl, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';
import { seriousViolations } from './axe.js';
import { chromiumSkipReason, collectPageErrors, PHONE, ROOT, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
const SHOTS = join(ROOT, 'docs', 'screenshots');
const DESKTOP = { width: 1280, height: 800 };

async function check(page: Page, screen: string): Promise<void> {
  const width = page.viewportSize()?.width ?? 0;
  await page.screenshot({ path: join(SHOTS, `${screen}-${width}.png`), fullPage: true });
  assert.deepEqual(await seriousViolations(page), [], `${screen}: serious accessibility violations`);
}

const SIZES: { name: string; ctx: BrowserContextOptions }[] = [
  { name: 'a 1280x800 desktop', ctx: { viewport: DESKTOP } },
  { name: 'a 390x844 phone', ctx: PHONE },
];

describe('accessibility of every screen (axe-core in Chromium)', { skip }, () => {
  const browser = useChromium();
  let node: TestNode;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    node = await startTestNode();
    await pairPhone(node); // the device list has a row to show
  });

  for (const size of SIZES) {
    test(`desktop UI at ${size.name}: main screen, pairing panel, Network panel, a pairing prompt, and the page without its link`, async () => {
      const ctx = await browser.newContext(size.ctx);
      const page = await ctx.newPage();
      const errors = collectPageErrors(page, { console: true });
      await page.goto(node.adminUrl);
      await page.getByTestId('node-name').filter({ hasText: node.identity.name }).waitFor(WAIT);
      await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
      await page.getByTestId('device-row').first().waitFor(WAIT);
      await check(page, 'desktop-main');
      await page.getByTestId('connect-device').click();
      await page
        .getByTestId('pair-pin')
        .filter({ hasText: /\d{3} ?\d{3}/ })
        .waitFor(WAIT);
      await check(page, 'desktop-pairing');
      await page.getByTestId('open-network').click();
      await page
        .getByTestId('network-port')
        .filter({ hasText: String(node.port) })
        .waitFor(WAIT);
      await check(page, 'desktop-network');
      // Another desktop asks to pair: the prompt, with the code to compare, at the top.
      const other = await startTestNode();
      const asked = await other.admin('/api/admin/pair-requests', { body: { host: '127.0.0.1', port: node.port } });
      assert.equal(asked.status, 200, JSON.stringify(asked.body));
      const prompt = page.getByTestId('pending-pairing').filter({ hasText: other.identity.name });
      await prompt.waitFor(WAIT);
      await check(page, 'desktop-pair-prompt');
      await prompt.getByTestId('pairing-prompt-decline').click();
      await prompt.waitFor({ state: 'detached', ...WAIT });
      const bare = await ctx.newPage();
      await bare.goto(`${node.base}/`);
      await bare.getByTestId('admin-locked').waitFor(WAIT);
      await check(bare, 'desktop-locked');
      assert.deepEqual(errors, []);
      await ctx.close();
    });

    test(`phone page at ${size.name}: the pairing form, a dead link, and the paired home`, async () => {
      const start = await node.startPairing();
      const ctx = await browser.newContext(size.ctx);
      const page = await ctx.newPage();
      const errors = collectPageErrors(page, { console: true });
      const url = loopbackUrl(start.url, node);
      await page.goto(url);
      await page.getByTestId('phone-pin').waitFor(WAIT);
      await check(page, 'phone-pairing');
      const dead = await ctx.newPage();
      const garbled = new URL(url);
      garbled.searchParams.set('code', 'not-a-code');
      await dead.goto(garbled.toString());
      await dead.getByTestId('phone-error').waitFor(WAIT);
      await check(dead, 'phone-dead-link');
      await dead.close();
      await page.getByTestId('phone-name').fill('Screenshot phone');
      await page.getByTestId('phone-pin').fill(start.pin);
      await page.getByTestId('phone-submit').click();
      await page
        .getByTestId('phone-status')
        .filter({ hasText: `Paired with ${node.identity.name}` })
        .waitFor(WAIT);
      await page.getByTestId('messages-panel').waitFor(WAIT);
      await check(page, 'phone-home');
      assert.deepEqual(errors, []);
      await ctx.close();
    });
  }

  test('the check bites: a control without a name is a serious violation', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    const page = await ctx.newPage();
    await page.setContent('<main><h1>t</h1><button></button><img src="data:,"></main>');
    const found = await seriousViolations(page);
    assert.ok(
      found.some((v) => v.includes('button-name')),
      found.join('\n'),
    );
    await ctx.close();
  });
});
