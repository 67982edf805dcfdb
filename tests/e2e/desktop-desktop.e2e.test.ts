// Two desktops, through the desktop UI: pairing by link + PIN (immediate), and by linking code + PIN (as after
// mDNS discovery) where both screens show the same 6-digit code and the person confirms it in the UI.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loopbackUrl, startTestNode } from '../helpers/test-node.js';
import { chromiumSkipReason, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();

describe('desktop UI: pairing with another desktop (Chromium)', { skip }, () => {
  const browser = useChromium();

  test("pair by link + PIN from the UI; a wrong PIN first shows the node's message", async () => {
    const a = await startTestNode();
    const b = await startTestNode();
    const p = await b.startPairing();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(a.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await page.getByText('Pair with a desktop by its link').click();
    await page.getByLabel('Pairing link shown on the other desktop').fill(loopbackUrl(p.url, b));
    await page.getByLabel('PIN shown on the other desktop').fill(String((Number(p.pin) + 1) % 1_000_000).padStart(6, '0'));
    await page.getByRole('button', { name: 'Pair', exact: true }).click();
    await page
      .getByTestId('error-banner')
      .filter({ hasText: /Wrong PIN.*attempts? left/ })
      .waitFor(WAIT);

    await page.getByLabel('PIN shown on the other desktop').fill(p.pin);
    await page.getByLabel('Pairing link shown on the other desktop').fill(loopbackUrl(p.url, b));
    await page.getByRole('button', { name: 'Pair', exact: true }).click();
    await page.locator(`[data-testid="device-row"][data-node-id="${b.identity.node_id}"]`).waitFor(WAIT);
    await page.getByTestId('error-banner').waitFor({ state: 'hidden', ...WAIT });
    await ctx.close();
  });

  test('pair by linking code: the UI shows the 6-digit code and confirming it completes the pairing', async () => {
    const a = await startTestNode();
    const c = await startTestNode();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(c.adminUrl);
    await page.getByTestId('connect-device').click();
    await page.getByTestId('pair-linking-code').filter({ hasText: /-/ }).waitFor(WAIT);
    const linking = (await page.getByTestId('pair-linking-code').textContent())!;
    const pin = (await page.getByTestId('pair-pin').textContent())!.replace(/\D/g, '');

    // A (as its UI would after finding C by mDNS) pairs with C's address, linking code and PIN.
    const r = await a.admin('/api/admin/pair-remote', {
      body: { host: '127.0.0.1', port: c.port, linking_code: linking, fingerprint: c.identity.fingerprint, pin },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const mine = r.body.pending;
    assert.ok(mine?.sas, 'A waits for confirmation');

    const pending = page.getByTestId('pending-pairing').filter({ hasText: a.identity.name });
    await pending.waitFor(WAIT);
    assert.equal((await pending.locator('.sas').textContent())!.replace(/\D/g, ''), mine.sas, 'both screens show the same code');
    await pending.getByRole('button', { name: 'Confirm' }).click();
    await pending.waitFor({ state: 'detached', ...WAIT });
    assert.equal((await a.admin(`/api/admin/pairings/${mine.pairing_id}/confirm`, { body: {} })).status, 200);

    await page.locator(`[data-testid="device-row"][data-node-id="${a.identity.node_id}"]`).waitFor(WAIT);
    await ctx.close();
  });
});
