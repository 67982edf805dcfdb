// The desktop UI without a valid admin token (no token, a wrong one, the node restarted under an open page)
// shows where the link is and how to get a new one, never an empty UI that looks real; a browser on another
// machine that opens the node's bare address lands on the phone page.

import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';
import { chromiumSkipReason, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

/** An IPv4 address of this machine that is not loopback: a request to it comes from a non-loopback peer. */
function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

async function assertGuidanceOnly(page: Page, heading: RegExp): Promise<void> {
  const locked = page.getByTestId('admin-locked');
  await locked.waitFor(WAIT);
  assert.match((await page.getByTestId('admin-locked-heading').textContent()) ?? '', heading);
  const text = (await locked.textContent()) ?? '';
  assert.match(text, /Desktop UI:/, 'says where a headless node printed the link');
  assert.match(text, /--admin-url/, 'says how to get a new link');
  assert.match(text, /desktop app/i);
  // Nothing of the real UI pretends to be there.
  for (const fake of ['No paired devices yet.', 'Loading…', 'Connect device']) {
    assert.equal(await page.getByText(fake, { exact: true }).isVisible(), false, `"${fake}" must not show`);
  }
}

describe('desktop UI without a valid admin token (Chromium)', { skip }, () => {
  const browser = useChromium();
  let node: TestNode;

  before(async () => {
    node = await startTestNode({ host: '0.0.0.0' });
  });

  test('no token: the page says where the link is', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${node.base}/`);
    await assertGuidanceOnly(page, /Open the desktop UI with its link/);
    await ctx.close();
  });

  test('a wrong token (an old link after a restart): the page says the link expired and what to do', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${node.base}/#admin=${'A'.repeat(43)}`);
    await assertGuidanceOnly(page, /no longer valid|expired/);
    assert.equal(await page.getByText('This link is no longer valid', { exact: false }).isVisible(), true);
    await ctx.close();
  });

  test('an open desktop UI whose node restarted (a new token) turns into the guidance, not a dead UI', async () => {
    const dataDir = tempDir();
    const first = await startTestNode({ dataDir });
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(first.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await first.stop();
    const second = await startTestNode({ dataDir, port: first.port, strictPort: true });
    assert.notEqual(second.adminToken, first.adminToken);
    await assertGuidanceOnly(page, /no longer valid|expired/);
    await ctx.close();
  });

  test("a browser on another machine opening the node's bare address lands on the phone page", async (t) => {
    const address = nonLoopbackAddress();
    if (!address) return t.skip('this machine has no non-loopback IPv4 address to come from');
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`http://${address}:${node.port}/`);
    assert.equal(new URL(page.url()).pathname, '/pair');
    await page.waitForLoadState('load');
    assert.equal(await page.getByTestId('admin-locked').count(), 0, 'not the desktop page');
    await ctx.close();
  });
});
