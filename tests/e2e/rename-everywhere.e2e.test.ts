// One pushed state: a desktop renamed in its own UI is renamed at once in every panel of the other desktop's UI
// (paired devices, the Network panel's peers, the Messages section), in its own header and title, and nowhere
// is the old name left beside the new one. No reload and no Refresh button.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAST_PEER_LINK, linkUp, pairDesktops } from '../helpers/peer-link-helpers.js';
import { eventually, startTestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

describe('a rename reaches every panel without a reload (Chromium)', { skip, timeout: 180_000 }, () => {
  const browser = useChromium();

  test("rename A in A's UI: B's device list, Network panel and Messages section follow, and the old name is gone", async () => {
    const a = await startTestNode({ peerLink: FAST_PEER_LINK });
    const b = await startTestNode({ peerLink: FAST_PEER_LINK });
    await a.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Old attic PC' } });
    await pairDesktops(a, b);
    await linkUp(a, b);

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
    const pageA = await ctx.newPage();
    const pageB = await ctx.newPage();
    const errors = [...collectPageErrors(pageA, { console: true }), ...collectPageErrors(pageB, { console: true })];
    await pageA.goto(a.adminUrl);
    await pageB.goto(b.adminUrl);
    for (const p of [pageA, pageB]) await p.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await pageB.getByTestId('open-network').click();
    const rowOfA = pageB.locator(`[data-testid="device-row"][data-node-id="${a.identity.node_id}"]`);
    await rowOfA.filter({ hasText: 'Old attic PC' }).waitFor(WAIT);
    await pageB.getByTestId('network-peers').filter({ hasText: 'Old attic PC' }).waitFor(WAIT);
    await pageB.getByTestId('messages-panel').filter({ hasText: 'Old attic PC' }).waitFor(WAIT);

    await pageA.getByRole('button', { name: 'Rename this node' }).click();
    await pageA.locator('#rename-input').fill('Attic studio');
    await pageA.getByRole('button', { name: 'Save' }).click();

    await pageA.getByTestId('node-name').filter({ hasText: 'Attic studio' }).waitFor(WAIT);
    await eventually(async () => (await pageA.title()).endsWith('Salita: Attic studio'), "A's title names it");
    await rowOfA.filter({ hasText: 'Attic studio' }).waitFor(WAIT);
    await pageB.getByTestId('network-peers').filter({ hasText: 'Attic studio' }).waitFor(WAIT);
    await pageB.getByTestId('messages-panel').filter({ hasText: 'Attic studio' }).waitFor(WAIT);
    await eventually(
      async () =>
        !(await pageB.locator('body').textContent())!.includes('Old attic PC') &&
        !(await pageA.locator('body').textContent())!.includes('Old attic PC'),
      'the old name is shown nowhere',
    );
    assert.deepEqual(errors, []);
    await ctx.close();
  });
});
